"""The host loop's off-policy schedule: a device replay buffer fed one vector-env step at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxrl.agents.registry import Algorithm
from jaxrl.core.sequence_replay import sequence_add, sequence_bytes, sequence_cut, sequence_init
from jaxrl.envs.atari import stacked_frames
from jaxrl.envs.host import EnvWorkerError
from jaxrl.envs.spec import uniform_actions_numpy
from jaxrl.io.checkpoint import CheckpointError, restore_state
from jaxrl.loops.acting import acting_view, example_transition, explore_and_act
from jaxrl.loops.host import TrainResult, committed, host_checkpoint, host_record, host_run, resume_host
from jaxrl.loops.memory_budget import available_device_bytes, check_fits
from jaxrl.loops.schedules import step_schedule
from jaxrl.types import Agent, Transition


def zeros_like_shapes(tree: Any) -> Any:
    """Zero NumPy arrays shaped like a tree of ``jax.ShapeDtypeStruct`` (the empty replay buffer, the
    extras stored with random actions): ``jnp.zeros`` compiled a program per shape (12 for SAC, ~0.25 s)."""
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), tree)


def make_off_policy_step(agent: Agent) -> Callable:
    """The device work of one env step:

    ``(state, buffer, transitions, valid, next_obs, keys, iteration, exploration, episode_start,
    do_update, do_act) -> (state, buffer, (next_actions, next_extras) or None, exploration, metrics)``

    It adds step ``t``'s transitions, runs ``update`` if ``do_update``, and if ``do_act`` explores
    and acts for step ``t + 1``: the usual act / step / add / update order. A step without an
    update is one jitted call, given only the state's acting view (no optimizer state) and not
    passing the state back: ~20 us less per call, which is most of DQN's steps. With an update it
    is two: the add alone (its buffer donated, written in place) and then update-and-act reading
    the buffer. In one program XLA fuses the sample's gather with the write and copies the
    buffer's leaves to do so: first measured for a 1M-item SAC buffer (18 MB of temporaries per
    step); on 2026-11-27 SAC's and TD3's n-step buffers no longer copied, but DQN's 1-D leaves
    (actions, rewards, terminated) did (8.7 MB), and an optimization barrier does not stop it.
    """
    def add_and_act(acting_state, buffer, transitions, valid, next_obs, keys, iteration, exploration,
                    episode_start, do_act):
        buffer = sequence_add(buffer, transitions, valid)
        acted = None
        if do_act:
            acted, exploration = exploring_actions_at(agent, acting_state, next_obs, keys[0], iteration + 1,
                                                      exploration, episode_start)
        return buffer, acted, exploration

    def update_and_act(state, buffer, next_obs, keys, iteration, exploration, episode_start, do_act):
        act_key, update_key = keys
        state, metrics = agent.update(state, buffer, jax.random.fold_in(update_key, iteration))
        acted = None
        if do_act:
            acted, exploration = exploring_actions_at(agent, state, next_obs, act_key, iteration + 1, exploration,
                                                      episode_start)
        return state, acted, exploration, metrics

    add_and_act = jax.jit(add_and_act, static_argnames=("do_act",), donate_argnums=1)
    add = jax.jit(sequence_add, donate_argnums=0)
    update_and_act = jax.jit(update_and_act, static_argnames=("do_act",), donate_argnums=0)

    def off_policy_step(state, buffer, transitions, valid, next_obs, keys, iteration, exploration, episode_start,
                        do_update, do_act):
        if not do_update:
            buffer, acted, exploration = add_and_act(acting_view(state), buffer, transitions, valid, next_obs, keys,
                                                     iteration, exploration, episode_start, do_act=do_act)
            return state, buffer, acted, exploration, {}
        buffer = add(buffer, transitions, valid)
        state, acted, exploration, metrics = update_and_act(state, buffer, next_obs, keys, iteration, exploration,
                                                            episode_start, do_act=do_act)
        return state, buffer, acted, exploration, metrics

    off_policy_step.programs = {"add_and_act": add_and_act, "add": add, "update_and_act": update_and_act}
    return off_policy_step


def exploring_actions_at(agent: Agent, state: Any, obs: Any, act_key: jax.Array, iteration: int, exploration: Any,
                  episode_start: Any) -> tuple[tuple[jax.Array, Any], Any]:
    """``((actions, extras), exploration)`` of the agent exploring at vector step ``iteration``."""
    noise = agent.sample_noise(state, jax.random.fold_in(act_key, iteration), (obs.shape[0],))
    actions, extras, _, exploration = explore_and_act(agent, state, obs, noise, None, episode_start, exploration)
    return (actions, extras), exploration


def train_off_policy(
    algorithm: Algorithm,
    config: Any,
    run_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train an off-policy agent (DDPG, TD3, SAC) from a device replay buffer.

    Schedule per vector-env step (:func:`~jaxrl.loops.schedules.step_schedule`): uniformly random
    actions for the first ``learning_starts`` env steps, then the agent's exploring actions; add
    the step's transitions (the executed, in-bounds actions and the true next observations) to
    the buffer; every ``train_frequency`` steps after ``learning_starts`` call ``update``.
    Adding, updating and acting are one device call per step (:func:`make_off_policy_step`). A
    metrics record is written every ``log_every`` env steps; checkpoints also hold the replay
    buffer and the random-action generator, so ``resume=True`` restores the learner exactly
    (the agent's exploration state restarts with the episodes). Ctrl-C saves a checkpoint after
    the current env step.
    """
    config.validate()
    iterations = max(1, config.total_timesteps // config.num_envs)
    with host_run(algorithm, config, run_dir, "record", iterations * config.num_envs, resume, overwrite) as (
            agent, env, key, state, recorder, tracker):
        num_envs, spec = env.num_envs, env.spec
        obs_shape = jax.ShapeDtypeStruct((num_envs, *spec.observation_shape), spec.observation_dtype)
        example = example_transition(agent, state, obs_shape, None,
                                     jax.eval_shape(agent.init_exploration, state, num_envs))
        frames = stacked_frames(config.env, spec.observation_shape)  # Atari: each frame stored once
        check_fits({"replay buffer (--buffer-size)": sequence_bytes(config.buffer_size, example, frames)},
                   available_device_bytes(), "device")
        buffer = zeros_like_shapes(jax.eval_shape(
            lambda: sequence_init(config.buffer_size, example, config.n_step, frames)))
        random_extras = zeros_like_shapes(example.extras)
        random_actions = np.random.default_rng(config.seed)
        start_iteration = 0
        if resume:
            state, key, resumed = resume_host(recorder, state, tracker)
            saved_replay = resumed.extra.get("replay", {})
            if "data" in saved_replay:  # the flat transition buffer of jaxrl before 2026-11-29
                raise CheckpointError(f"{resumed.path} holds its replay as a buffer of transitions, which this "
                                      f"jaxrl no longer resumes (it keeps each env's steps in time order); "
                                      f"`jaxrl eval` still reads the run, or start a new one")
            # the envs restart below: each stored episode ends where the checkpoint left it
            buffer = jax.jit(sequence_cut)(restore_state(buffer, saved_replay, resumed.path))
            random_actions.bit_generator.state = json.loads(resumed.meta["numpy_rng"])
            start_iteration = int(resumed.meta["env_steps"]) // num_envs
            if recorder.stop_reason:  # a run that met a stopping rule stays stopped
                iterations = start_iteration
        keys = jax.random.split(key)  # acting, updating
        state, buffer = committed(state), committed(buffer)
        recorder.open()
        off_policy_step = make_off_policy_step(agent)
        exploration = committed(agent.init_exploration(state, num_envs))
        obs = env.reset(seed=config.seed + start_iteration * num_envs)
        pending_metrics: list[dict[str, jax.Array]] = []
        acted = None
        if step_schedule(start_iteration, num_envs, config)[0]:  # the first actions already come from the policy
            acted, exploration = jax.jit(exploring_actions_at, static_argnums=0)(
                agent, state, obs, keys[0], start_iteration, exploration, np.ones(num_envs, bool))

        def save(env_steps: int) -> Path | None:
            return host_checkpoint(recorder, state, key, env_steps, tracker, extra={"replay": buffer},
                                   numpy_rng=json.dumps(random_actions.bit_generator.state))

        env_steps = start_iteration * num_envs
        with recorder.stop_request:
            for iteration in range(start_iteration, iterations):
                acting, do_update = step_schedule(iteration, num_envs, config)
                actions, extras = acted if acting else (uniform_actions_numpy(spec, random_actions, num_envs),
                                                        random_extras)
                actions = np.asarray(actions)
                try:
                    step = env.step(actions)
                except EnvWorkerError as error:  # a stop signal that killed the env workers: save the last step
                    if not recorder.stop_request.explains(error):
                        raise
                    raise recorder.interrupted(save(env_steps), env_steps) from None
                transitions = Transition(obs=obs, actions=env.env_actions(actions), rewards=step.rewards,
                                         terminated=step.terminated, truncated=step.truncated,
                                         next_obs=step.next_obs, extras=extras)
                tracker.record(step.rewards, step.terminated | step.truncated, step.valid)
                obs = step.obs
                env_steps = (iteration + 1) * num_envs
                # the last step acts too (the actions go unused): a program without acting compiled for
                # one call cost ~2 s of a 64x64 SAC run (exploration is not checkpointed; keys fold in)
                do_act = step_schedule(iteration + 1, num_envs, config)[0]
                state, buffer, acted, exploration, metrics = off_policy_step(
                    state, buffer, transitions, step.valid, obs, keys, iteration, exploration,
                    step.terminated | step.truncated, do_update=do_update, do_act=do_act)
                if do_update:
                    pending_metrics.append(metrics)
                if env_steps // config.log_every > (env_steps - num_envs) // config.log_every or \
                        iteration + 1 == iterations:
                    stop = host_record(recorder, algorithm, env_steps, tracker, mean_metrics(pending_metrics), state)
                    pending_metrics = []
                    if stop:
                        break
                    if recorder.periodic():
                        save(env_steps)
                if recorder.stop_request.requested:
                    raise recorder.interrupted(save(env_steps), env_steps)
        save(env_steps)
    return TrainResult(state, recorder.history, recorder.run_dir)


def mean_metrics(metrics: list[dict[str, jax.Array]]) -> dict[str, float]:
    """Mean of each scalar metric over the updates since the last record, NaN entries (no update
    value) left out; an infinite value stays visible. Fetched leaf by leaf with ``np.asarray``:
    ``jax.device_get`` on the list cost ~45 us per leaf on CPU against ~4 us (500 updates of 8
    metrics: 180 ms against 17 ms)."""
    if not metrics:
        return {}
    names = list(metrics[0])
    values = np.array([[np.asarray(update[name]) for name in names] for update in metrics], np.float64)
    present = ~np.isnan(values)  # [updates, metrics]
    counts = present.sum(axis=0)
    sums = np.where(present, values, 0.0).sum(axis=0)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return dict(zip(names, means.tolist()))
