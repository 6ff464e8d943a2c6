"""The device loop: a whole training run as nested ``lax.scan``s inside one ``jit``.

``make_train(algorithm, config) -> train(key, hparams=None) -> DeviceTrainResult``.
The env is a :class:`~jaxrl.envs.device.DeviceEnv` vmapped over ``num_envs``; acting,
storage, GAE or replay and the updates are the agent's own ``act_from_noise`` and
``update`` (the functions the host loop calls), so nothing about an algorithm is
written twice. Because ``train`` is pure,

* ``jax.jit(jax.vmap(train))(keys)`` trains one run per key, and
* ``jax.vmap(train)(keys, {"learning_rate": lrs})`` sweeps any numeric hyper-parameter
  listed in the agent's ``state.hparams``.

With a ``mesh`` (:func:`jaxrl.distributed.env_mesh`), the env axis of the env states, observations and
rollout is sharded over the mesh's devices and everything else (parameters,
optimizer state, replay buffer) is replicated; XLA partitions the program and
inserts the gradient all-reduces, so the result is the single-device result up to
floating-point summation order. The mesh may span processes.
"""

from __future__ import annotations

import dataclasses
import json
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
from jaxrl.distributed import check_divisible, shard_env_axis
from jaxrl.envs.device import DeviceEnv, make_device_env
from jaxrl.io.checkpoint import CheckpointError, latest_for_resume, restore_state, save_checkpoint
from jaxrl.io.metrics import MetricsWriter, Progress, truncate_metrics
from jaxrl.loops.guards import StopRequest, TrainingInterrupted, check_finite_metrics
from jaxrl.types import RecurrentRollout, Rollout, Transition

Train = Callable[..., "DeviceTrainResult"]


class DeviceTrainResult(NamedTuple):
    """What ``train`` returns; add a leading axis per ``vmap``."""

    state: Any  # the agent's final train state
    metrics: dict[str, jax.Array]  # [num_updates] (PPO) or [num_records] (off-policy) per name


class EpisodeStats(NamedTuple):
    """Running episode return and length of every env, ``[B]`` each."""

    returns: jax.Array
    lengths: jax.Array

    @classmethod
    def zeros(cls, num_envs: int) -> EpisodeStats:
        return cls(jnp.zeros(num_envs, jnp.float32), jnp.zeros(num_envs, jnp.int32))

    def step(self, rewards: jax.Array, done: jax.Array) -> tuple[EpisodeStats, dict[str, jax.Array]]:
        """Add a step; returns the new stats and ``{"finished_return", "finished_length", "done"}`` [B]."""
        returns, lengths = self.returns + rewards, self.lengths + 1
        finished = {"finished_return": returns * done, "finished_length": lengths * done, "done": done}
        return EpisodeStats(returns * ~done, lengths * ~done), finished


def episode_metrics(finished: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Mean return/length of the episodes that ended in ``finished`` (any shape); NaN if none did."""
    count = jnp.sum(finished["done"])
    mean = lambda x: jnp.where(count > 0, jnp.sum(x) / jnp.maximum(count, 1), jnp.nan)
    return {"episodic_return": mean(finished["finished_return"]),
            "episodic_length": mean(finished["finished_length"].astype(jnp.float32)), "episodes": count}


def _with_hparams(state: Any, hparams: dict[str, Any] | None) -> Any:
    if not hparams:
        return state
    unknown = sorted(set(hparams) - set(state.hparams))
    if unknown:
        raise ValueError(f"unknown hyper-parameters {unknown}; vmappable: {sorted(state.hparams)}")
    return state.replace(hparams={**state.hparams, **{k: jnp.asarray(v, jnp.float32) for k, v in hparams.items()}})


def _reset_envs(env: DeviceEnv, key: jax.Array, num_envs: int, mesh: Mesh | None) -> tuple[Any, jax.Array]:
    env_state, obs = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    return shard_env_axis((env_state, obs), mesh)


def _step_envs(env: DeviceEnv, env_state: Any, actions: jax.Array, key: jax.Array, mesh: Mesh | None):
    keys = jax.random.split(key, actions.shape[0])
    return shard_env_axis(jax.vmap(env.step)(env_state, actions, keys), mesh)


class DeviceProgram(NamedTuple):
    """A device-loop run as pure pieces, so it can stop after any iteration and resume exactly.

    ``run(init(key, hparams), jnp.arange(num_iterations))`` is the whole run; running
    ``jnp.arange(0, k)`` and then ``jnp.arange(k, num_iterations)`` on the carry it returns
    is the same run. The carry holds everything (train state, env states, keys, replay
    buffer, episode statistics), so saving it is a complete checkpoint.
    """

    init: Callable[..., Any]  # (key, hparams=None) -> carry
    run: Callable[[Any, jax.Array], tuple[Any, dict[str, jax.Array]]]  # (carry, indices [n]) -> carry, metrics [n]
    num_iterations: int  # updates (on-policy) or metrics records (off-policy)
    unit: str  # "update" or "record": what one iteration is


def program_to_train(program: DeviceProgram) -> Train:
    """``train(key, hparams=None) -> DeviceTrainResult``: the whole run in one scan."""

    def train(key: jax.Array, hparams: dict[str, Any] | None = None) -> DeviceTrainResult:
        carry, metrics = program.run(program.init(key, hparams), jnp.arange(program.num_iterations))
        return DeviceTrainResult(carry.state, metrics)

    return train


class _Actor(NamedTuple):
    """What the on-policy loop carries between env steps (``[B, ...]`` each)."""

    env_state: Any
    obs: jax.Array
    carry: Any  # recurrent agents: LSTM carry; else None
    episode_start: jax.Array  # bool: obs starts an episode
    stats: EpisodeStats


class OnPolicyCarry(NamedTuple):
    state: Any  # the agent's train state
    actor: _Actor
    key: jax.Array  # the run's key; update i uses fold_in(key, i)


class OffPolicyCarry(NamedTuple):
    state: Any  # the agent's train state
    buffer: Any  # the replay buffer
    env_state: Any
    obs: jax.Array  # [B, *obs_shape]
    ou_state: jax.Array  # [B, action_dim] OU exploration noise
    episode_start: jax.Array  # [B] bool
    stats: EpisodeStats
    key: jax.Array  # split once per env step


def make_on_policy_program(agent: ModuleType, config: Any, env: DeviceEnv, mesh: Mesh | None = None
                           ) -> DeviceProgram:
    """PPO (feed-forward, or recurrent when the agent has ``initial_carry``): ``num_updates`` x
    (``num_steps`` env steps, one ``update``). Update ``i`` draws its keys from ``fold_in(key, i)``,
    so any split of the updates into pieces gives the same run."""
    config.validate()
    check_divisible(config.num_envs, mesh)
    recurrent = hasattr(agent, "initial_carry")
    num_envs, num_steps = config.num_envs, config.num_steps

    def env_step(state, actor: _Actor, inputs):
        noise, step_key = inputs
        if recurrent:
            actions, info, carry = agent.act_from_noise(state, actor.obs, noise, actor.carry, actor.episode_start)
        else:
            (actions, info), carry = agent.act_from_noise(state, actor.obs, noise), None
        step = _step_envs(env, actor.env_state, actions, step_key, mesh)
        done = step.terminated | step.truncated
        stats, finished = actor.stats.step(step.reward, done)
        record = dict(obs=actor.obs, actions=actions, log_probs=info.log_prob, values=info.value,
                      rewards=step.reward, terminated=step.terminated, truncated=step.truncated,
                      next_obs=step.next_obs, carry=actor.carry, episode_start=actor.episode_start, **finished)
        return _Actor(step.env_state, step.obs, carry, done, stats), record

    def update_step(carry: OnPolicyCarry, update_index: jax.Array):
        state, actor, base_key = carry
        noise_key, steps_key, update_key = jax.random.split(jax.random.fold_in(base_key, update_index), 3)
        noise = agent.action_noise(state.spec, noise_key, (num_steps, num_envs))
        step_keys = jax.random.split(steps_key, num_steps)
        actor, records = jax.lax.scan(lambda a, x: env_step(state, a, x), actor, (noise, step_keys))
        records = shard_env_axis(records, mesh, env_axis=1)
        rollout = Rollout(obs=records["obs"], actions=records["actions"], log_probs=records["log_probs"],
                          values=records["values"], rewards=records["rewards"], terminated=records["terminated"],
                          truncated=records["truncated"], next_obs=records["next_obs"],
                          mask=jnp.ones((num_steps, num_envs), jnp.float32))
        if recurrent:
            rollout = RecurrentRollout(rollout, records["carry"], records["episode_start"], actor.carry)
        state, metrics = agent.update(state, rollout, update_key)
        metrics = {**metrics, **episode_metrics(records), "env_steps": (update_index + 1) * config.batch_size}
        return OnPolicyCarry(state, actor, base_key), metrics

    def init(key: jax.Array, hparams: dict[str, Any] | None = None) -> OnPolicyCarry:
        key, init_key, reset_key = jax.random.split(key, 3)
        state = _with_hparams(agent.init(init_key, env.spec, config), hparams)
        env_state, obs = _reset_envs(env, reset_key, num_envs, mesh)
        carry = agent.initial_carry(state, num_envs) if recurrent else None
        return OnPolicyCarry(state, _Actor(env_state, obs, carry, jnp.ones(num_envs, bool),
                                           EpisodeStats.zeros(num_envs)), key)

    def run(carry: OnPolicyCarry, update_indices: jax.Array) -> tuple[OnPolicyCarry, dict[str, jax.Array]]:
        return jax.lax.scan(update_step, carry, update_indices)

    return DeviceProgram(init, run, config.num_updates, "update")


def off_policy_schedule(config: Any) -> tuple[int, int]:
    """``(record_iterations, num_records)``: vector-env steps per metrics record, and records."""
    record_iterations = max(1, config.log_every // config.num_envs)
    num_records = max(1, config.total_timesteps // (config.num_envs * record_iterations))
    return record_iterations, num_records


def make_off_policy_program(agent: ModuleType, config: Any, env: DeviceEnv, mesh: Mesh | None = None
                            ) -> DeviceProgram:
    """DDPG/TD3/SAC with the host loop's schedule: uniform random actions for the first
    ``learning_starts`` env steps, then the agent's noisy actions; every step adds ``num_envs``
    transitions; every ``train_frequency`` steps past ``learning_starts`` one ``update``. Metrics
    are averaged over each ``log_every`` env steps (NaN: no update in the record, ``updates`` == 0)."""
    config.validate()
    check_divisible(config.num_envs, mesh)
    spec, num_envs = env.spec, config.num_envs
    record_iterations, num_records = off_policy_schedule(config)
    low, high = jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32)

    def env_step(carry: OffPolicyCarry, iteration: jax.Array):
        state, buffer, env_state, obs, ou_state, episode_start, stats, key = carry
        key, act_key, random_key, step_key, update_key = jax.random.split(key, 5)
        policy_actions, ou_state = exploring_actions(agent, state, obs, act_key, ou_state, episode_start)
        random_actions = jax.random.uniform(random_key, policy_actions.shape, minval=low, maxval=high)
        acting, learning = step_schedule(iteration, num_envs, config)
        actions = jnp.where(acting, policy_actions, random_actions)
        step = _step_envs(env, env_state, actions, step_key, mesh)
        buffer = replay_add(buffer, Transition(obs=obs, actions=actions, rewards=step.reward, next_obs=step.next_obs,
                                               terminated=step.terminated.astype(jnp.float32)))
        no_update = jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype),
                                 jax.eval_shape(agent.update, state, buffer, update_key)[1])
        state, metrics = jax.lax.cond(learning, lambda: agent.update(state, buffer, update_key),
                                      lambda: (state, no_update))
        done = step.terminated | step.truncated
        stats, finished = stats.step(step.reward, done)
        carry = OffPolicyCarry(state, buffer, step.env_state, step.obs, ou_state, done, stats, key)
        return carry, (metrics, finished, learning)

    def record_step(carry: OffPolicyCarry, record_index: jax.Array):
        iterations = record_index * record_iterations + jnp.arange(record_iterations)
        carry, (metrics, finished, learning) = jax.lax.scan(env_step, carry, iterations)
        return carry, {**jax.tree.map(jnp.nanmean, metrics), **episode_metrics(finished),
                       "updates": jnp.sum(learning), "env_steps": (record_index + 1) * record_iterations * num_envs}

    def init(key: jax.Array, hparams: dict[str, Any] | None = None) -> OffPolicyCarry:
        key, init_key, reset_key = jax.random.split(key, 3)
        state = _with_hparams(agent.init(init_key, spec, config), hparams)
        buffer = replay_init(config.buffer_size, spec.observation_shape, spec.action_dim)
        env_state, obs = _reset_envs(env, reset_key, num_envs, mesh)
        return OffPolicyCarry(state, buffer, env_state, obs, ou_init(num_envs, spec.action_dim),
                              jnp.ones(num_envs, bool), EpisodeStats.zeros(num_envs), key)

    def run(carry: OffPolicyCarry, record_indices: jax.Array) -> tuple[OffPolicyCarry, dict[str, jax.Array]]:
        return jax.lax.scan(record_step, carry, record_indices)

    return DeviceProgram(init, run, num_records, "record")


def make_program(algorithm: str, config: Any, mesh: Mesh | None = None) -> DeviceProgram:
    """The resumable :class:`DeviceProgram` for ``algorithm`` on ``config.env`` (a JAX env id, see
    :func:`jaxrl.envs.device.device_env_ids`)."""
    from jaxrl.registry import agent_for, get_algorithm

    env = make_device_env(config.env)
    agent = agent_for(algorithm, config)
    builder = make_on_policy_program if get_algorithm(algorithm).on_policy else make_off_policy_program
    return builder(agent, config, env, mesh)


def make_train(algorithm: str, config: Any, mesh: Mesh | None = None) -> Train:
    """The pure ``train(key, hparams=None) -> DeviceTrainResult`` for ``algorithm`` on ``config.env``:
    the whole run as one scan (see :func:`make_program` for the pieces)."""
    return program_to_train(make_program(algorithm, config, mesh))


class DeviceRunResult(NamedTuple):
    """A device-loop run of one or more seeds, as the CLI reports it."""

    states: Any  # the final train states, leading axis [num_seeds]
    metrics: dict[str, np.ndarray]  # [num_seeds, num_updates or num_records] per name
    summary: dict[str, Any]  # per-seed and aggregate results (what results.json holds)


def final_returns(episodic_return: np.ndarray) -> np.ndarray:
    """The last finite entry of each row of ``[num_seeds, num_points]`` (NaN: no episode ended)."""
    finite = np.isfinite(episodic_return)
    last = np.where(finite.any(axis=1), episodic_return.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1), 0)
    values = episodic_return[np.arange(len(episodic_return)), last]
    return np.where(finite.any(axis=1), values, np.nan)


def segment_bounds(num_iterations: int, checkpoint_every: int) -> list[tuple[int, int]]:
    """``[(begin, end), ...]`` pieces of ``checkpoint_every`` iterations (one piece when 0)."""
    size = checkpoint_every or num_iterations
    return [(begin, min(begin + size, num_iterations)) for begin in range(0, num_iterations, size)]


def run_device(algorithm: str, config: Any, num_seeds: int = 1, run_dir: str | Path | None = None,
               mesh: Mesh | None = None, resume: bool = False) -> DeviceRunResult:
    """Train seeds ``config.seed ... config.seed + num_seeds - 1`` together with ``jit(vmap(...))``.

    Seed ``s`` gets ``PRNGKey(s)``, so each seed's result equals a one-seed run with
    ``seed=s``. With ``run_dir`` (written by process 0 only) the run leaves
    ``config.json``, ``metrics.jsonl`` (one record per update or log interval: the mean
    over seeds and each seed's ``episodic_return``), ``results.json`` and one
    evaluable sub-run per seed in ``seed_<s>/``.

    With a ``run_dir`` and ``checkpoint_every > 0`` the run goes in pieces of
    ``checkpoint_every`` iterations and saves its whole carry (train states, env states,
    keys, replay buffers, episode statistics) after each; ``resume=True`` continues from
    the latest one and ends bit-identical to an uninterrupted run. A non-finite loss or
    parameter stops the run before the bad piece is saved; Ctrl-C stops it after the
    current piece, saved.
    """
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    config.validate()
    seeds = np.arange(config.seed, config.seed + num_seeds)
    program = make_program(algorithm, config, mesh)
    writes = run_dir is not None and jax.process_index() == 0
    run_dir = Path(run_dir) if run_dir is not None else None
    if resume and run_dir is None:
        raise ValueError("resume needs the run_dir of the run to continue")
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    init = jax.jit(jax.vmap(program.init))
    run_piece = jax.jit(jax.vmap(program.run, in_axes=(0, None)), donate_argnums=0)
    pieces = segment_bounds(program.num_iterations, config.checkpoint_every if run_dir is not None else 0)
    start = time.perf_counter()
    carry = init(keys)
    done, time_before = 0, 0.0
    if resume:
        check_resumable(run_dir, algorithm, config)
        carry, done, time_before = _resume_device_run(run_dir, algorithm, program, carry, seeds)
    compiled = {}  # piece length -> compiled piece
    for begin, end in pieces:
        if begin >= done and end - begin not in compiled:
            compiled[end - begin] = run_piece.lower(carry, jnp.arange(begin, end)).compile()
    compile_s = time.perf_counter() - start
    if writes and not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.json", algorithm, loop="device", num_seeds=num_seeds)
    writer = MetricsWriter(run_dir) if writes else None
    progress = Progress(_env_steps_at(program.num_iterations, program, config), config.progress and len(pieces) > 1)
    collected: list[dict[str, np.ndarray]] = []
    train_s = 0.0
    try:
        with StopRequest() as stop_request:
            for begin, end in pieces:
                if end <= done:
                    continue
                piece_start = time.perf_counter()
                carry, piece_metrics = jax.block_until_ready(compiled[end - begin](carry, jnp.arange(begin, end)))
                train_s += time.perf_counter() - piece_start
                piece_metrics = {name: np.asarray(value) for name, value in piece_metrics.items()}
                _check_finite_pieces(piece_metrics, begin, program.unit, seeds)
                collected.append(piece_metrics)
                if writes:
                    for record in _metric_records(piece_metrics, program.unit, begin):
                        writer.write(record)
                    if config.checkpoint_every:
                        meta = {"algorithm": algorithm, "loop": "device", "seeds": seeds.tolist(),
                                program.unit: end, "env_steps": int(piece_metrics["env_steps"][0, -1]),
                                "time_s": time_before + train_s}
                        saved = save_checkpoint(run_dir, carry, meta, keep=config.keep_checkpoints)
                returns, steps_now = piece_metrics["episodic_return"][:, -1], _env_steps_at(end, program, config)
                progress.advance(steps_now, (steps_now - _env_steps_at(done, program, config)) * num_seeds / train_s,
                                 float(np.nanmean(returns)) if np.isfinite(returns).any() else None)
                if stop_request.requested and end < program.num_iterations:
                    where = f"interrupted after {program.unit} {end} of {program.num_iterations}"
                    if writes and config.checkpoint_every:
                        raise TrainingInterrupted(f"{where}; saved {saved}; continue with: jaxrl train {algorithm} "
                                                  f"--loop device --resume {run_dir}")
                    raise TrainingInterrupted(f"{where}; nothing saved (needs a run dir and checkpoint_every > 0)")
    finally:
        progress.close()
        if writer is not None:
            writer.close()
    metrics = {name: np.concatenate([m[name] for m in collected], axis=1) for name in collected[0]} \
        if collected else {}
    states = carry.state
    env_steps = _env_steps_at(pieces[-1][1], program, config)
    returns = final_returns(metrics["episodic_return"]) if metrics else np.full(num_seeds, np.nan)
    summary = {
        "algorithm": algorithm, "env": config.env, "loop": "device", "seeds": seeds.tolist(),
        "final_episodic_return": [None if np.isnan(r) else float(r) for r in returns],
        "mean_final_episodic_return": float(np.nanmean(returns)) if np.isfinite(returns).any() else None,
        "std_final_episodic_return": float(np.nanstd(returns)) if np.isfinite(returns).any() else None,
        "env_steps_per_seed": env_steps, "compile_s": compile_s, "train_s": train_s,
        "aggregate_sps": (env_steps - _env_steps_at(done, program, config)) * num_seeds / max(train_s, 1e-9),
        "devices": 1 if mesh is None else mesh.size, "processes": jax.process_count(),
        "resumed_from_" + program.unit: done if resume else None,
    }
    if writes:
        _write_seed_runs(run_dir, algorithm, config, seeds, states, summary)
    return DeviceRunResult(states, metrics, summary)


def _env_steps_at(iterations: int, program: DeviceProgram, config: Any) -> int:
    """Env steps (per seed) after ``iterations`` updates or records."""
    if program.unit == "update":
        return iterations * config.batch_size
    record_iterations, _ = off_policy_schedule(config)
    return iterations * record_iterations * config.num_envs


def _check_finite_pieces(metrics: dict[str, np.ndarray], begin: int, unit: str, seeds: np.ndarray) -> None:
    """Raise :class:`TrainingError` for the first (seed, iteration) with a non-finite learner value
    (records without an update, ``updates == 0``, have NaN losses by design)."""
    num_seeds, length = metrics["env_steps"].shape
    for index in range(length):
        for seed_index in range(num_seeds):
            if "updates" in metrics and metrics["updates"][seed_index, index] == 0:
                continue
            values = {name: float(column[seed_index, index]) for name, column in metrics.items()}
            check_finite_metrics(values, f"seed {seeds[seed_index]}, {unit} {begin + index + 1}")


def _metric_records(metrics: dict[str, np.ndarray], unit: str, begin: int) -> list[dict[str, Any]]:
    """One metrics.jsonl record per iteration: the mean over seeds, and each seed's return."""
    records = []
    for index in range(metrics["env_steps"].shape[1]):
        record = {unit: begin + index + 1, "env_steps": int(metrics["env_steps"][0, index])}
        for name, values in metrics.items():
            if name != "env_steps":
                column = values[:, index].astype(np.float64)
                record[name] = float(np.nanmean(column)) if np.isfinite(column).any() else float("nan")
        record["episodic_return_per_seed"] = [None if np.isnan(r) else float(r)
                                              for r in metrics["episodic_return"][:, index]]
        records.append(record)
    return records


def _resume_device_run(run_dir: Path, algorithm: str, program: DeviceProgram, template: Any,
                       seeds: np.ndarray) -> tuple[Any, int, float]:
    """``(carry, iterations done, train seconds so far)`` from the latest complete checkpoint."""
    path, meta, state_dict, _ = latest_for_resume(run_dir, algorithm, "device", program.unit)
    if meta.get("seeds") != seeds.tolist():
        raise CheckpointError(f"checkpoint {path} holds seeds {meta.get('seeds')}, this run asks for {seeds.tolist()}")
    restored = restore_state(template, state_dict, path)
    carry = jax.tree.map(lambda leaf, like: jax.device_put(leaf, like.sharding), restored, template)
    done = int(meta[program.unit])
    truncate_metrics(run_dir, program.unit, done)
    return carry, done, float(meta.get("time_s", 0.0))


def _write_seed_runs(run_dir: Path, algorithm: str, config: Any, seeds: np.ndarray, states: Any,
                     summary: dict[str, Any]) -> None:
    """An evaluable sub-run per seed (its config and final train state) and results.json."""
    for index, seed in enumerate(seeds):
        seed_dir = run_dir / f"seed_{seed}"
        seed_config = dataclasses.replace(config, seed=int(seed))
        seed_dir.mkdir(exist_ok=True)
        save_config(seed_config, seed_dir / "config.json", algorithm)
        state = jax.tree.map(lambda x, i=index: np.asarray(x[i]), states)
        save_checkpoint(seed_dir, state, {"algorithm": algorithm, "env_steps": summary["env_steps_per_seed"],
                                          "loop": "device"}, keep=config.keep_checkpoints)
    (run_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
