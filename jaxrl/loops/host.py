"""The host loop: gymnasium vector envs on the CPU feeding the agent's jitted functions.

One batch of data, end to end: :class:`~jaxrl.envs.host.HostVectorEnv` steps the envs and
reports true next observations; :func:`~jaxrl.loops.acting.collect_rollout` calls the
agent's ``explore``/``act`` once per step and stacks a time-major
:class:`~jaxrl.types.Rollout`; the agent's ``update`` does the rest (PPO: GAE and the
epochs). Off-policy, each step's :class:`~jaxrl.types.Transition` goes into a device replay
buffer and ``update`` samples it (:mod:`jaxrl.loops.host_off_policy`). The
:class:`~jaxrl.loops.run.RunRecorder` logs, checkpoints, resumes and decides when to stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
from jax.sharding import Mesh

from jaxrl.agents.registry import Algorithm
from jaxrl.core.platform import matmul_precision
from jaxrl.distributed import check_divisible, put_env_axis, put_replicated
from jaxrl.envs.host import EnvWorkerError, HostVectorEnv, host_env_for
from jaxrl.io.video import VIDEO_DIR, EpisodeVideos, check_renders, prepare_rendering
from jaxrl.loops.acting import collect_rollout, example_transition, initial_actor_input
from jaxrl.loops.episodes import EpisodeTracker
from jaxrl.loops.guards import check_finite_metrics
from jaxrl.loops.memory_budget import (
    HOST_ENV_BYTES,
    available_device_bytes,
    available_host_bytes,
    check_fits,
    tree_bytes,
)
from jaxrl.loops.run import RunRecorder, key_from_list, key_to_list
from jaxrl.loops.training_eval import host_evaluator
from jaxrl.nets.init import eager_values
from jaxrl.types import Agent


class TrainResult(NamedTuple):
    state: Any  # the agent's final train state
    history: list[dict[str, Any]]  # one metrics record per update or log interval (as in metrics.jsonl)
    run_dir: Path | None


def committed(tree: Any, mesh: Mesh | None = None) -> Any:
    """A fresh state (or buffer) placed on the device(s) explicitly. A freshly initialised state is
    uncommitted while every later one (an ``update`` output) is committed, and jit compiles
    the two cases separately: one extra compilation of ``update`` per run without this."""
    return put_replicated(tree, mesh) if mesh is not None else jax.device_put(tree, jax.devices()[0])


def host_record(recorder: RunRecorder, algorithm: Algorithm, env_steps: int, tracker: EpisodeTracker,
                metrics: dict[str, float], state: Any) -> bool:
    """Check, log and show one host-loop record of the run's ``state`` after it (evaluated where
    an evaluation is due); True when the run should stop. Raises
    :class:`~jaxrl.loops.guards.TrainingError` on a non-finite learner value before anything is logged."""
    index = recorder.last_index + 1
    check_finite_metrics(metrics, f"{recorder.unit} {index}", algorithm.finite_metrics, algorithm.nan_allowed)
    elapsed = recorder.elapsed
    record = {recorder.unit: index, "env_steps": env_steps, "time_s": elapsed, "sps": env_steps / elapsed,
              **tracker.metrics(), **metrics}
    stop = recorder.record(record, state)
    recorder.progress.advance(env_steps, record["sps"], record["episodic_return"])
    return stop


def host_checkpoint(recorder: RunRecorder, state: Any, key: jax.Array, env_steps: int, tracker: EpisodeTracker,
                    extra: dict[str, Any] | None = None, **meta: Any) -> Path | None:
    """Save what a resumed host run needs: learner state (+ ``extra``), key, episode window."""
    return recorder.checkpoint(state, env_steps, extra=extra, key=key_to_list(key), tracker=tracker.to_dict(),
                               **meta)


def resume_host(recorder: RunRecorder, template: Any, tracker: EpisodeTracker) -> tuple[Any, jax.Array, Any]:
    """``(state, key, resumed)`` from the latest checkpoint; ``tracker`` gets its episode window back."""
    resumed = recorder.resume(template)
    tracker.load_dict(resumed.meta["tracker"])
    return resumed.tree, key_from_list(resumed.meta["key"]), resumed


class HostRun(NamedTuple):
    """What a host schedule starts from (see :func:`host_run`)."""

    agent: Agent
    env: HostVectorEnv
    key: jax.Array  # the loop's key (init's was split off)
    state: Any  # the freshly initialised learner state
    recorder: RunRecorder
    tracker: EpisodeTracker


@contextlib.contextmanager
def host_run(algorithm: Algorithm, config: Any, run_dir: str | Path | None, unit: str, total_steps: int,
             resume: bool, overwrite: bool = False) -> Iterator[HostRun]:
    """The env, the agent's fresh state and the recorder of a host-loop run; closes the env and the
    recorder however the run ends. Envs that would not fit in the host's memory are refused first."""
    agent = algorithm.agent_for(config)
    check_fits({"envs (--num-envs)": config.num_envs * HOST_ENV_BYTES[config.vectorization]},
               available_host_bytes(), "host")
    if config.capture_video:
        if run_dir is None:
            raise ValueError("capture_video writes the videos into the run dir: give a run_dir")
        prepare_rendering("rgb_array")  # off-screen, before the envs exist: no display needed (MuJoCo's on EGL)
    env = host_env_for(config)
    recorder = None
    try:
        if config.capture_video:  # the loops reset env 0 with seed config.seed + env_steps: the videos' names
            check_renders(env.env.envs[0], config.seed)
            env.env.envs[0] = EpisodeVideos(env.env.envs[0], Path(run_dir) / VIDEO_DIR, config.num_envs, config.seed)
        # the agent's functions trace in the caller's loop, inside this
        with matmul_precision(config.matmul_precision):
            key, init_key = jax.random.split(jax.random.PRNGKey(config.seed))
            with eager_values():  # one compiled init, with the values the eager init had
                state = jax.jit(lambda key: agent.init(key, env.spec, config))(init_key)
            recorder = RunRecorder(algorithm.name, config, run_dir, unit=unit, loop="host", total_steps=total_steps,
                                   resume=resume, overwrite=overwrite,
                                   evaluator=host_evaluator(agent, config) if config.eval_every else None)
            yield HostRun(agent, env, key, state, recorder, EpisodeTracker(env.num_envs))
    finally:
        env.close()
        if recorder is not None:
            recorder.close()


def train_on_policy(
    algorithm: Algorithm,
    config: Any,
    run_dir: str | Path | None = None,
    mesh: Mesh | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train an on-policy agent: ``num_updates`` x (a rollout of ``num_steps`` steps, one ``update``).

    With ``run_dir`` the run writes ``config.json``, ``metrics.jsonl``, TensorBoard events and
    checkpoints there; without it nothing touches the disk. With a ``mesh``
    (:func:`jaxrl.distributed.env_mesh`) each rollout is split over its devices along the env
    axis before ``update`` and the learner state is replicated; acting stays on one device.

    ``resume=True`` continues the run in ``run_dir`` from its latest complete checkpoint: the
    learner state, PRNG key, update counter, recent-episode window and early-stopping state are
    restored exactly; the envs restart from a reset (seeded ``seed + env_steps``), and
    metrics.jsonl continues after the checkpoint's update. Ctrl-C saves a checkpoint after the
    current update and raises :class:`~jaxrl.loops.guards.TrainingInterrupted`. A fresh run refuses a
    ``run_dir`` that holds another run unless ``overwrite`` (see :class:`~jaxrl.loops.run.RunRecorder`).
    """
    config.validate()
    check_divisible(config.num_envs, mesh)
    total_steps = config.num_updates * config.batch_size
    with host_run(algorithm, config, run_dir, "update", total_steps, resume, overwrite) as (agent, env, key, state, recorder,
                                                                                   tracker):
        if resume:
            state, key, _ = resume_host(recorder, state, tracker)
        state = committed(state, mesh)
        one_env = (jax.ShapeDtypeStruct((1, *env.spec.observation_shape), env.spec.observation_dtype),
                   jax.eval_shape(lambda s: agent.initial_carry(s, 1), state),
                   jax.eval_shape(lambda s: agent.init_exploration(s, 1), state))
        step_bytes = tree_bytes(example_transition(agent, state, *one_env))
        # the rollout, and about twice that again while update gathers its shuffled minibatches
        check_fits({"rollouts (--num-envs x --num-steps)": 3 * step_bytes * config.batch_size},
                   available_device_bytes(), "device")
        recorder.open()
        env_steps = recorder.last_index * config.batch_size
        actor_input = initial_actor_input(agent, state, env.reset(seed=config.seed + env_steps))
        episodes_at_update = tracker.to_dict()  # the episode window as the last complete update left it
        with recorder.stop_request:
            last_update = recorder.last_index if recorder.stop_reason else config.num_updates  # stopped: stays so
            for update_index in range(recorder.last_index + 1, last_update + 1):
                next_key, rollout_key, update_key = jax.random.split(key, 3)
                try:
                    rollout, actor_input = collect_rollout(env, agent, state, actor_input, rollout_key,
                                                           config.num_steps, tracker)
                except EnvWorkerError as error:  # a stop signal that killed the env workers: save the last update
                    if not recorder.stop_request.explains(error):
                        raise
                    tracker.load_dict(episodes_at_update)  # without the episodes of the rollout given up
                    raise recorder.interrupted(host_checkpoint(recorder, state, key, env_steps, tracker),
                                               env_steps) from None
                if mesh is not None:  # the env axis (axis 1 of [T, B] arrays) split over the mesh
                    rollout = put_env_axis(rollout, mesh, 1)
                new_state, metrics = agent.update(state, rollout, update_key)
                metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
                env_steps = update_index * config.batch_size
                stop = host_record(recorder, algorithm, env_steps, tracker, metrics, new_state)  # raises if non-finite
                state, key, episodes_at_update = new_state, next_key, tracker.to_dict()
                if stop:
                    break
                if recorder.stop_request.requested:
                    raise recorder.interrupted(host_checkpoint(recorder, state, key, env_steps, tracker), env_steps)
                if recorder.periodic():
                    host_checkpoint(recorder, state, key, env_steps, tracker)
        host_checkpoint(recorder, state, key, env_steps, tracker)
    return TrainResult(state, recorder.history, recorder.run_dir)
