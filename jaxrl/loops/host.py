"""The host loop: gymnasium vector envs on the CPU feeding jitted ``act``/``update``.

One batch of data, end to end: :class:`~jaxrl.envs.host.HostVectorEnv` steps the envs
and reports true next observations; :func:`collect_rollout` calls the jitted ``act``
once per step (only the actions come back to the host; log-probs and values stay on
the device) and stacks a time-major :class:`~jaxrl.types.Rollout`; the agent's
``update`` does GAE and the epochs; :func:`train` logs, checkpoints and decides when
to stop.
"""

from __future__ import annotations

import collections
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxrl.agents.offpolicy import exploring_actions, step_schedule
from jaxrl.config import check_resumable, save_config
from jaxrl.core.noise import ou_init
from jaxrl.core.replay import replay_add, replay_init
from jaxrl.distributed import check_divisible, put_env_axis, put_replicated
from jaxrl.envs.host import HostVectorEnv, host_env_for
from jaxrl.io.checkpoint import latest_for_resume, restore_state, save_checkpoint
from jaxrl.io.metrics import MetricsWriter, Progress, truncate_metrics
from jaxrl.loops.guards import StopRequest, TrainingInterrupted, check_finite_metrics
from jaxrl.types import RecurrentRollout, Rollout, Transition

RETURN_WINDOW = 20  # episodes in the rolling mean reported as episodic_return


def acting_device() -> jax.Device:
    """The device the host loop acts on (the first one, also when the learner is sharded)."""
    return jax.devices()[0]


class TrainResult(NamedTuple):
    state: Any  # the agent's final train state
    history: list[dict[str, Any]]  # one metrics record per update (as in metrics.jsonl)
    run_dir: Path | None


class EpisodeTracker:
    """Returns and lengths of running episodes (raw env rewards), ``[B]`` each."""

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, np.float64)
        self.lengths = np.zeros(num_envs, np.int64)
        self.finished: collections.deque[tuple[float, int]] = collections.deque(maxlen=RETURN_WINDOW)
        self.total_finished = 0

    def record(self, rewards: np.ndarray, ended: np.ndarray, valid: np.ndarray) -> None:
        self.returns += rewards * valid
        self.lengths += valid
        for index in np.flatnonzero(ended):
            self.finished.append((float(self.returns[index]), int(self.lengths[index])))
            self.returns[index] = 0.0
            self.lengths[index] = 0
        self.total_finished += int(np.count_nonzero(ended))

    def mean_return(self) -> float | None:
        return float(np.mean([r for r, _ in self.finished])) if self.finished else None

    def mean_length(self) -> float | None:
        return float(np.mean([n for _, n in self.finished])) if self.finished else None

    def to_dict(self) -> dict[str, Any]:
        """The finished-episode window and count (running episodes restart on resume)."""
        return {"finished": [list(item) for item in self.finished], "total_finished": self.total_finished}

    def load_dict(self, saved: dict[str, Any]) -> None:
        self.finished.clear()
        self.finished.extend((float(r), int(n)) for r, n in saved["finished"])
        self.total_finished = int(saved["total_finished"])


def acting_view(state: Any) -> Any:
    """The state without what acting never reads (optimizer state, learning hyper-parameters):
    fewer leaves to flatten on every ``act`` call, ~1 us each."""
    return state.replace(opt_state=None, hparams={}) if hasattr(state, "opt_state") else state


class ActorInput(NamedTuple):
    """What the next act call needs besides the train state; the loop carries it across rollouts."""

    obs: np.ndarray  # [B, *obs_shape]
    carry: Any = None  # recurrent agents: the LSTM carry of every env
    episode_start: np.ndarray | None = None  # recurrent agents: [B] bool, obs starts an episode


def initial_actor_input(agent: ModuleType, state: Any, obs: np.ndarray) -> ActorInput:
    if hasattr(agent, "initial_carry"):
        # Committed to the acting device like the carries act returns: an uncommitted first carry
        # is another jit signature, so act (and the rollout's carry stack) would compile twice.
        carry = jax.device_put(agent.initial_carry(state, obs.shape[0]), acting_device())
        return ActorInput(obs, carry, np.ones(obs.shape[0], bool))
    return ActorInput(obs)


def collect_rollout(
    env: HostVectorEnv,
    agent: ModuleType,
    state: Any,
    actor_input: ActorInput,
    key: jax.Array,
    num_steps: int,
    tracker: EpisodeTracker,
) -> tuple[Rollout | RecurrentRollout, ActorInput]:
    """Step ``env`` for ``num_steps``; returns the ``[T, B]`` rollout and the next actor input.

    The rollout's action noise is drawn in one call up front; each step then costs one
    jitted ``act_from_noise`` call, and only the actions come back to the host. Step
    ``t + 1``'s policy is dispatched as soon as the env returns step ``t``'s observations,
    before step ``t``'s bookkeeping, so the device computes while the host copies (same
    calls, same order of results: the trajectory is that of the plain loop). For a
    recurrent agent the carry entering every step is stored too.
    """
    recurrent = actor_input.carry is not None
    obs, carry, episode_start = actor_input
    batch_shape = (num_steps, env.num_envs)
    obs_buffer = np.empty(batch_shape + obs.shape[1:], np.float32)
    next_obs_buffer = np.empty_like(obs_buffer)
    rewards = np.empty(batch_shape, np.float32)
    terminated = np.empty(batch_shape, bool)
    truncated = np.empty(batch_shape, bool)
    valid = np.empty(batch_shape, bool)
    episode_starts = np.empty(batch_shape, bool)
    actions, infos, carries = [], [], []
    noise = np.asarray(agent.action_noise(state.spec, key, batch_shape))
    # One device acts, even when the learner state is replicated over a mesh.
    acting_state = jax.device_put(acting_view(state), acting_device())
    def dispatch(t: int, obs: np.ndarray, carry: Any, episode_start: np.ndarray | None) -> tuple:
        """Start step ``t``'s policy on the device; JAX returns before the result is ready."""
        if recurrent:
            return agent.act_from_noise(acting_state, obs, noise[t], carry, episode_start)
        return (*agent.act_from_noise(acting_state, obs, noise[t]), None)

    pending = dispatch(0, obs, carry, episode_start)
    for t in range(num_steps):
        action, info, next_carry = pending
        action = np.array(action)  # waits for the policy; a copy, as a NumPy view of a device buffer is slower
        step = env.step(action)
        if t + 1 < num_steps:
            # The next step's policy runs on the device while the host does this step's bookkeeping.
            pending = dispatch(t + 1, step.obs, next_carry, step.obs_is_reset)
        if recurrent:
            carries.append(carry)
            episode_starts[t] = episode_start
        obs_buffer[t] = obs
        actions.append(action)
        infos.append(info)
        rewards[t], terminated[t], truncated[t] = step.rewards, step.terminated, step.truncated
        next_obs_buffer[t], valid[t] = step.next_obs, step.valid
        tracker.record(step.rewards, step.terminated | step.truncated, step.valid)
        obs, carry, episode_start = step.obs, next_carry, step.obs_is_reset
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *infos)
    rollout = Rollout(
        obs=obs_buffer,
        actions=np.stack(actions),
        log_probs=stacked.log_prob,
        values=stacked.value,
        rewards=rewards,
        terminated=terminated,
        truncated=truncated,
        next_obs=next_obs_buffer,
        mask=valid.astype(np.float32),
    )
    if recurrent:
        all_carries = jax.tree.map(lambda *xs: jnp.stack(xs), *carries)
        rollout = RecurrentRollout(rollout, all_carries, episode_starts, carry)
    return rollout, ActorInput(obs, carry, episode_start)


def _committed(state: Any, mesh: Mesh | None = None) -> Any:
    """A fresh state (or buffer) placed on the device(s) explicitly. A freshly initialised state is
    uncommitted while every later one (an ``update`` output) is committed, and jit compiles
    the two cases separately: one extra compilation of ``update`` per run without this."""
    return put_replicated(state, mesh) if mesh is not None else jax.device_put(state, jax.devices()[0])


def _shard_rollout(rollout: Rollout | RecurrentRollout, mesh: Mesh | None) -> Rollout | RecurrentRollout:
    """Split the env axis (axis 1 of ``[T, B]`` arrays, axis 0 of the final carry) over the mesh."""
    if mesh is None:
        return rollout
    if isinstance(rollout, RecurrentRollout):
        time_major = put_env_axis((rollout.rollout, rollout.carries, rollout.episode_starts), mesh, 1)
        return RecurrentRollout(*time_major, final_carry=put_env_axis(rollout.final_carry, mesh, 0))
    return put_env_axis(rollout, mesh, 1)


class _Stopper:
    """Early stop on a target return or on ``patience`` records without a new best."""

    def __init__(self, target_return: float | None, patience: int | None):
        self.target_return, self.patience = target_return, patience
        self.best = -math.inf
        self.records_without_improvement = 0

    def reason(self, mean_return: float | None) -> str | None:
        if mean_return is None:
            return None
        if self.target_return is not None and mean_return >= self.target_return:
            return f"target return {self.target_return} reached ({mean_return:.1f})"
        if mean_return > self.best:
            self.best, self.records_without_improvement = mean_return, 0
        else:
            self.records_without_improvement += 1
        if self.patience is not None and self.records_without_improvement >= self.patience:
            return f"no improvement for {self.patience} records (best {self.best:.1f})"
        return None


class Resumed(NamedTuple):
    """What a host loop continues from (see :meth:`_Run.resume`)."""

    state: Any  # the learner state, restored exactly
    key: jax.Array  # the loop's PRNG key at the checkpoint
    env_steps: int
    meta: dict[str, Any]  # the checkpoint's meta (loop-specific entries, e.g. the NumPy RNG state)
    extra: dict[str, Any]  # extra pytrees as state dicts (e.g. the replay buffer)
    path: Path  # the checkpoint it came from


class _Run:
    """The side effects of one training run: config file, metrics, progress bar, early
    stopping, checkpoints and resumption. Both schedules below log through it."""

    def __init__(self, algorithm: str, config: Any, run_dir: str | Path | None, total_steps: int, unit: str,
                 resume: bool = False):
        self.algorithm, self.config, self.unit = algorithm, config, unit
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writer = None
        if resume and self.run_dir is None:
            raise ValueError("resume needs the run_dir of the run to continue")
        if self.run_dir is not None:
            if resume:
                check_resumable(self.run_dir, algorithm, config)
            else:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                save_config(config, self.run_dir / "config.json", algorithm, loop="host", num_seeds=1)
        self.stopper = _Stopper(config.target_return, config.patience)
        self.progress = Progress(total_steps, config.progress)
        self.history: list[dict[str, Any]] = []
        self.start_index = 0  # updates/records done before this process (resumed runs)
        self.start = time.perf_counter()
        self.stop_request = StopRequest()

    def open(self) -> None:
        """Start appending metrics (after :meth:`resume` has cut metrics.jsonl back to the checkpoint)."""
        if self.run_dir is not None:
            self.writer = MetricsWriter(self.run_dir)

    @property
    def last_index(self) -> int:
        return self.start_index + len(self.history)

    def log(self, env_steps: int, tracker: EpisodeTracker, metrics: dict[str, float]) -> bool:
        """Record one update (on-policy) or log interval (off-policy); True when training should stop."""
        index = self.last_index + 1
        check_finite_metrics(metrics, f"{self.unit} {index}")
        elapsed = time.perf_counter() - self.start
        record = {
            self.unit: index,
            "env_steps": env_steps,
            "time_s": elapsed,
            "sps": env_steps / elapsed,
            "episodic_return": tracker.mean_return(),
            "episodic_length": tracker.mean_length(),
            "episodes": tracker.total_finished,
            **metrics,
        }
        stop_reason = self.stopper.reason(record["episodic_return"])
        if stop_reason is not None:
            record["stop_reason"] = stop_reason
        self.history.append(record)
        if self.writer is not None:
            self.writer.write(record)
        self.progress.advance(env_steps, record["sps"], record["episodic_return"])
        return stop_reason is not None

    def checkpoint(self, state: Any, key: jax.Array, env_steps: int, tracker: EpisodeTracker,
                   extra: dict[str, Any] | None = None, **loop_meta: Any) -> Path | None:
        """Save everything a resumed run needs: the learner state (+ ``extra`` pytrees), the key, the
        counters, the episode tracker, the early-stopping state and ``loop_meta``."""
        if self.run_dir is None:
            return None
        meta = {"algorithm": self.algorithm, "loop": "host", "env_steps": env_steps, self.unit: self.last_index,
                "key": np.asarray(key).tolist(), "time_s": time.perf_counter() - self.start,
                "tracker": tracker.to_dict(), "stopper": [self.stopper.best, self.stopper.records_without_improvement],
                **loop_meta}
        return save_checkpoint(self.run_dir, state, meta, keep=self.config.keep_checkpoints, extra=extra)

    def resume(self, template: Any, tracker: EpisodeTracker) -> Resumed:
        """Restore the latest complete checkpoint into ``template`` (a fresh state for this config),
        restore ``tracker`` and the early-stopping state, and cut metrics.jsonl back to it."""
        assert self.run_dir is not None
        path, meta, state_dict, extra = latest_for_resume(self.run_dir, self.algorithm, "host", self.unit)
        state = restore_state(template, state_dict, path)
        tracker.load_dict(meta["tracker"])
        self.stopper.best, self.stopper.records_without_improvement = meta["stopper"]
        self.start_index = int(meta[self.unit])
        self.start -= float(meta["time_s"])
        truncate_metrics(self.run_dir, self.unit, self.start_index)
        key = jnp.asarray(np.asarray(meta["key"], np.uint32))
        return Resumed(state, key, int(meta["env_steps"]), meta, extra, path)

    def interrupted(self, path: Path | None, env_steps: int) -> TrainingInterrupted:
        where = f"interrupted after {env_steps} env steps ({self.unit} {self.last_index})"
        if path is None:
            return TrainingInterrupted(f"{where}; no run dir, nothing saved")
        return TrainingInterrupted(f"{where}; saved {path}; continue with: "
                                   f"jaxrl train {self.algorithm} --resume {self.run_dir}")

    def periodic(self) -> bool:
        every = self.config.checkpoint_every
        return bool(every) and self.last_index % every == 0

    def close(self) -> None:
        self.progress.close()
        if self.writer is not None:
            self.writer.close()


def train_on_policy(
    agent: ModuleType,
    algorithm: str,
    config: Any,
    run_dir: str | Path | None = None,
    mesh: Mesh | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train an on-policy agent (``init``/``act_from_noise``/``update`` over a :class:`Rollout`).

    With ``run_dir`` the run writes ``config.json``, ``metrics.jsonl``, TensorBoard
    events and checkpoints there; without it nothing touches the disk. With a ``mesh``
    (:func:`jaxrl.distributed.env_mesh`) each rollout is split over its devices along the
    env axis before ``update`` and the learner state is replicated; acting stays on one
    device.

    ``resume=True`` continues the run in ``run_dir`` from its latest complete checkpoint:
    the learner state, PRNG key, update counter, recent-episode window and early-stopping
    state are restored exactly; the envs restart from a reset (seeded ``seed + env_steps``),
    and metrics.jsonl continues after the checkpoint's update. Ctrl-C saves a checkpoint
    after the current update and raises :class:`~jaxrl.loops.guards.TrainingInterrupted`.
    """
    config.validate()
    check_divisible(config.num_envs, mesh)
    env = host_env_for(config)
    run = None
    try:
        key, init_key = jax.random.split(jax.random.PRNGKey(config.seed))
        state = agent.init(init_key, env.spec, config)
        run = _Run(algorithm, config, run_dir, config.num_updates * config.batch_size, "update", resume)
        tracker = EpisodeTracker(env.num_envs)
        if resume:
            state, key, *_ = run.resume(state, tracker)
        state = _committed(state, mesh)
        run.open()
        env_steps = run.last_index * config.batch_size
        actor_input = initial_actor_input(agent, state, env.reset(seed=config.seed + env_steps))
        with run.stop_request:
            for update_index in range(run.last_index + 1, config.num_updates + 1):
                key, rollout_key, update_key = jax.random.split(key, 3)
                rollout, actor_input = collect_rollout(env, agent, state, actor_input, rollout_key,
                                                       config.num_steps, tracker)
                new_state, metrics = agent.update(state, _shard_rollout(rollout, mesh), update_key)
                metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
                env_steps = update_index * config.batch_size
                stop = run.log(env_steps, tracker, metrics)  # raises on a non-finite loss: new_state is dropped
                state = new_state
                if stop:
                    break
                if run.stop_request.requested:
                    raise run.interrupted(run.checkpoint(state, key, env_steps, tracker), env_steps)
                if run.periodic():
                    run.checkpoint(state, key, env_steps, tracker)
        run.checkpoint(state, key, env_steps, tracker)
    finally:
        env.close()
        if run is not None:
            run.close()
    return TrainResult(state, run.history, run.run_dir)


def make_off_policy_step(agent: ModuleType) -> Callable:
    """One jitted device call per env step, so an accelerator sees one dispatch per step:

    ``(state, buffer, transitions, valid, next_obs, keys, iteration, ou_state, episode_start)
    -> (state, buffer, next_actions, ou_state, metrics)``

    It adds step ``t``'s transitions, runs ``update`` if ``do_update``, and if ``do_act``
    draws the acting noise (Gaussian, or OU reset where an episode starts) and returns
    the actions for step ``t + 1``: the usual act / step / add / update order.
    """
    def off_policy_step(state, buffer, transitions, valid, next_obs, keys, iteration, ou_state, episode_start,
                        do_update, do_act):
        act_key, update_key = keys
        buffer = replay_add(buffer, transitions, valid)
        metrics = {}
        if do_update:
            state, metrics = agent.update(state, buffer, jax.random.fold_in(update_key, iteration))
        actions = jnp.zeros((next_obs.shape[0], state.spec.action_dim), jnp.float32)
        if do_act:
            actions, ou_state = exploring_actions(agent, state, next_obs, jax.random.fold_in(act_key, iteration + 1),
                                                  ou_state, episode_start)
        return state, buffer, actions, ou_state, metrics

    return jax.jit(off_policy_step, static_argnames=("do_update", "do_act"), donate_argnums=(0, 1))


def train_off_policy(
    agent: ModuleType,
    algorithm: str,
    config: Any,
    run_dir: str | Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train an off-policy agent (DDPG, TD3, SAC) from a device replay buffer.

    Schedule per vector-env step: uniformly random actions for the first
    ``learning_starts`` env steps, then the agent's noisy actions; add the step's
    transitions (the executed, in-bounds actions and the true next observations) to
    the buffer; every ``train_frequency`` steps after ``learning_starts`` call
    ``update`` (``updates_per_step`` gradient steps). Adding, updating and acting are
    one device call per step (:func:`make_off_policy_step`). A metrics record is
    written every ``log_every`` env steps; checkpoints also hold the replay buffer and
    the random-action generator, so ``resume=True`` restores the learner exactly (as in
    :func:`train_on_policy`; OU noise restarts with the episodes). Ctrl-C saves a
    checkpoint after the current env step.
    """
    config.validate()
    env = host_env_for(config)
    run = None
    try:
        key, init_key = jax.random.split(jax.random.PRNGKey(config.seed))
        state = agent.init(init_key, env.spec, config)
        num_envs, spec = env.num_envs, env.spec
        iterations = max(1, config.total_timesteps // num_envs)
        run = _Run(algorithm, config, run_dir, iterations * num_envs, "record", resume)
        buffer = replay_init(config.buffer_size, spec.observation_shape, spec.action_dim)
        random_actions = np.random.default_rng(config.seed)
        tracker = EpisodeTracker(num_envs)
        start_iteration = 0
        if resume:
            state, key, env_steps, meta, extra, path = run.resume(state, tracker)
            buffer = restore_state(buffer, extra.get("replay", {}), path)
            random_actions.bit_generator.state = json.loads(meta["numpy_rng"])
            start_iteration = env_steps // num_envs
        keys = jax.random.split(key)  # acting, updating
        state, buffer = _committed(state), _committed(buffer)
        run.open()
        off_policy_step = make_off_policy_step(agent)
        low, high = np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32)
        ou_state = _committed(ou_init(num_envs, spec.action_dim))
        obs = env.reset(seed=config.seed + start_iteration * num_envs)
        pending_metrics: list[dict[str, jax.Array]] = []
        actions = None
        if step_schedule(start_iteration, num_envs, config)[0]:  # the first actions already come from the policy
            actions = np.array(agent.act(state, obs, jax.random.fold_in(keys[0], start_iteration))[0])

        def save(env_steps: int) -> Path | None:
            return run.checkpoint(state, key, env_steps, tracker, extra={"replay": buffer},
                                  numpy_rng=json.dumps(random_actions.bit_generator.state))

        env_steps = start_iteration * num_envs
        with run.stop_request:
            for iteration in range(start_iteration, iterations):
                acting, do_update = step_schedule(iteration, num_envs, config)
                if not acting:
                    actions = random_actions.uniform(low, high, (num_envs, spec.action_dim)).astype(np.float32)
                step = env.step(actions)
                transitions = Transition(obs=obs, actions=env.env_actions(actions), rewards=step.rewards,
                                         next_obs=step.next_obs, terminated=step.terminated.astype(np.float32))
                tracker.record(step.rewards, step.terminated | step.truncated, step.valid)
                obs = step.obs
                env_steps = (iteration + 1) * num_envs
                do_act = step_schedule(iteration + 1, num_envs, config)[0] and iteration + 1 < iterations
                state, buffer, next_actions, ou_state, metrics = off_policy_step(
                    state, buffer, transitions, step.valid, obs, keys, iteration, ou_state,
                    step.terminated | step.truncated, do_update=do_update, do_act=do_act)
                if do_act:
                    actions = np.array(next_actions)
                if do_update:
                    pending_metrics.append(metrics)
                if env_steps // config.log_every > (env_steps - num_envs) // config.log_every or \
                        iteration + 1 == iterations:
                    stop = run.log(env_steps, tracker, _mean_metrics(pending_metrics))
                    pending_metrics = []
                    if stop:
                        break
                    if run.periodic():
                        save(env_steps)
                if run.stop_request.requested:
                    raise run.interrupted(save(env_steps), env_steps)
        save(env_steps)
    finally:
        env.close()
        if run is not None:
            run.close()
    return TrainResult(state, run.history, run.run_dir)


def _mean_metrics(metrics: list[dict[str, jax.Array]]) -> dict[str, float]:
    """Mean of each metric over the updates since the last record (fetched from the device once)."""
    if not metrics:
        return {}
    fetched = jax.device_get(metrics)
    return {name: float(np.nanmean([m[name] for m in fetched])) if any(np.isfinite(m[name]) for m in fetched)
            else float("nan") for name in fetched[0]}
