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
import math
import time
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.config import save_config
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.io.checkpoint import save_checkpoint
from jaxrl.io.metrics import MetricsWriter, Progress
from jaxrl.types import Rollout

RETURN_WINDOW = 20  # episodes in the rolling mean reported as episodic_return


class TrainingError(RuntimeError):
    """Training produced something unusable (e.g. a non-finite loss)."""


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


def acting_view(state: Any) -> Any:
    """The state without its optimizer state: fewer leaves to flatten on every ``act`` call."""
    return state.replace(opt_state=None) if hasattr(state, "opt_state") else state


def collect_rollout(
    env: HostVectorEnv,
    agent: ModuleType,
    state: Any,
    obs: np.ndarray,
    key: jax.Array,
    num_steps: int,
    tracker: EpisodeTracker,
) -> tuple[Rollout, np.ndarray]:
    """Step ``env`` for ``num_steps``; returns the ``[T, B]`` rollout and the next observation.

    The rollout's action noise is drawn in one call up front; each step then costs one
    jitted ``act_from_noise`` call, and only the actions come back to the host.
    """
    batch_shape = (num_steps, env.num_envs)
    obs_buffer = np.empty(batch_shape + obs.shape[1:], np.float32)
    next_obs_buffer = np.empty_like(obs_buffer)
    rewards = np.empty(batch_shape, np.float32)
    terminated = np.empty(batch_shape, bool)
    truncated = np.empty(batch_shape, bool)
    valid = np.empty(batch_shape, bool)
    actions, infos = [], []
    noise = np.asarray(agent.action_noise(state.spec, key, batch_shape))
    acting_state = acting_view(state)
    for t in range(num_steps):
        action, info = agent.act_from_noise(acting_state, obs, noise[t])
        action = np.array(action)  # a copy: a NumPy view of a device buffer is slower to consume
        step = env.step(action)
        obs_buffer[t] = obs
        actions.append(action)
        infos.append(info)
        rewards[t], terminated[t], truncated[t] = step.rewards, step.terminated, step.truncated
        next_obs_buffer[t], valid[t] = step.next_obs, step.valid
        tracker.record(step.rewards, step.terminated | step.truncated, step.valid)
        obs = step.obs
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
    return rollout, obs


def _check_finite(metrics: dict[str, float], update_index: int) -> None:
    for name in ("policy_loss", "value_loss", "grad_norm"):
        if name in metrics and not math.isfinite(metrics[name]):
            raise TrainingError(
                f"update {update_index}: {name} is {metrics[name]}; stopping without saving this state "
                "(the last good checkpoint is kept)"
            )


class _Stopper:
    """Early stop on a target return or on ``patience`` updates without a new best."""

    def __init__(self, target_return: float | None, patience: int | None):
        self.target_return, self.patience = target_return, patience
        self.best = -math.inf
        self.updates_without_improvement = 0

    def reason(self, mean_return: float | None) -> str | None:
        if mean_return is None:
            return None
        if self.target_return is not None and mean_return >= self.target_return:
            return f"target return {self.target_return} reached ({mean_return:.1f})"
        if mean_return > self.best:
            self.best, self.updates_without_improvement = mean_return, 0
        else:
            self.updates_without_improvement += 1
        if self.patience is not None and self.updates_without_improvement >= self.patience:
            return f"no improvement for {self.patience} updates (best {self.best:.1f})"
        return None


def train_on_policy(
    agent: ModuleType,
    algorithm: str,
    config: Any,
    run_dir: str | Path | None = None,
) -> TrainResult:
    """Train an on-policy agent (``init``/``act``/``update`` over a :class:`Rollout`).

    With ``run_dir`` the run writes ``config.json``, ``metrics.jsonl``, TensorBoard
    events and checkpoints there; without it nothing touches the disk.
    """
    config.validate()
    run_dir = Path(run_dir) if run_dir is not None else None
    env = HostVectorEnv(make_vector_env(config.env, config.num_envs, config.vectorization))
    writer = None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.json", algorithm)
        writer = MetricsWriter(run_dir)
    key = jax.random.PRNGKey(config.seed)
    key, init_key = jax.random.split(key)
    state = agent.init(init_key, env.spec, config)
    obs = env.reset(seed=config.seed)
    tracker = EpisodeTracker(env.num_envs)
    stopper = _Stopper(config.target_return, config.patience)
    progress = Progress(config.num_updates * config.batch_size, config.progress)
    history: list[dict[str, Any]] = []
    env_steps, start = 0, time.perf_counter()

    def checkpoint(update_index: int) -> None:
        if run_dir is not None:
            meta = {"algorithm": algorithm, "env_steps": env_steps, "update": update_index,
                    "key": np.asarray(key).tolist()}
            save_checkpoint(run_dir, state, meta, keep=config.keep_checkpoints)

    try:
        for update_index in range(1, config.num_updates + 1):
            key, rollout_key, update_key = jax.random.split(key, 3)
            rollout, obs = collect_rollout(env, agent, state, obs, rollout_key, config.num_steps, tracker)
            new_state, metrics = agent.update(state, rollout, update_key)
            metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
            _check_finite(metrics, update_index)
            state = new_state
            env_steps += config.batch_size
            elapsed = time.perf_counter() - start
            sps = env_steps / elapsed
            record = {
                "update": update_index,
                "env_steps": env_steps,
                "time_s": elapsed,
                "sps": sps,
                "episodic_return": tracker.mean_return(),
                "episodic_length": tracker.mean_length(),
                "episodes": tracker.total_finished,
                **metrics,
            }
            history.append(record)
            if writer is not None:
                writer.write(record)
            progress.advance(env_steps, sps, record["episodic_return"])
            stop_reason = stopper.reason(record["episodic_return"])
            if stop_reason is not None:
                record["stop_reason"] = stop_reason
                break
            if config.checkpoint_every and update_index % config.checkpoint_every == 0:
                checkpoint(update_index)
        checkpoint(history[-1]["update"] if history else 0)
    finally:
        progress.close()
        env.close()
        if writer is not None:
            writer.close()
    return TrainResult(state, history, run_dir)
