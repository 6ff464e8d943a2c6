"""Load a finished run and play evaluation episodes with its policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.registry import get_algorithm
from jaxrl.config import env_kwargs_of
from jaxrl.core.platform import matmul_precision, run_once_compiler_options
from jaxrl.envs.atari import evaluated_stochastically
from jaxrl.envs.device import DeviceEnv, make_device_env
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.envs.spec import observation_to_array, stack_observations
from jaxrl.io.checkpoint import CheckpointError, latest_good_checkpoint, read_checkpoint, restore_state
from jaxrl.io.config_file import config_from_dict, load_run_config
from jaxrl.io.video import prepare_rendering
from jaxrl.loops.acting import ActorInput, act_for_evaluation, initial_actor_input, jitted_exploring_step
from jaxrl.loops.episodes import EpisodeTracker
from jaxrl.loops.evaluate_device import evaluate_on_device, require_all_ended
from jaxrl.types import Agent


class Policy:
    """``policy(obs) -> actions``: a trained agent's deterministic actions, as NumPy, for
    observations ``[B, *obs_shape]`` or one ``[*obs_shape]`` (then one action comes back).

    Given the env's (single) ``observation_space``, it takes the env's raw observations, one or a
    batch, of any supported space (a Discrete integer, a dict, ...) and encodes them as training
    did; without it, observations come as the networks see them (float ``[*obs_shape]``: a Box's own).

    A recurrent policy keeps its carry between calls, as an episode goes on; pass
    ``episode_start [B]`` (True where an env's episode begins) or call :meth:`reset` between
    episodes. The first call, and any call with a new batch size, starts every episode afresh.

    ``sample_seed``: act as in training instead (sampled actions; DQN and PQN with their final
    epsilon), the noise of call ``i`` drawn from ``fold_in(PRNGKey(sample_seed), i)``: how Atari
    agents are evaluated (:func:`~jaxrl.envs.atari.evaluated_stochastically`).
    """

    def __init__(self, agent: Agent, state: Any, observation_space: gym.Space | None = None,
                 sample_seed: int | None = None):
        self.agent, self.state, self.observation_space = agent, state, observation_space
        self._act = jax.jit(agent.act)
        self._explore = None if sample_seed is None else jitted_exploring_step(agent)
        self._key, self._calls = jax.random.PRNGKey(sample_seed or 0), 0
        self._carry, self._batch, self._exploration = None, None, None

    def reset(self) -> None:
        self._carry, self._batch = None, None

    def __call__(self, obs: Any, episode_start: Any = None) -> np.ndarray:
        obs, single = self._network_input(obs)
        batch = obs.shape[0]
        fresh = self._batch != batch
        if fresh:
            self._carry, self._batch = self.agent.initial_carry(self.state, batch), batch
            self._exploration = self.agent.init_exploration(self.state, batch)
        starts = jnp.full(batch, fresh, bool) if episode_start is None else \
            jnp.asarray(episode_start, bool).reshape(batch) | fresh
        actions, acted = act_for_evaluation(self._act, self._explore, self.state,
                                            ActorInput(obs, self._carry, starts, self._exploration), self._key,
                                            self._calls)
        self._carry, self._exploration, self._calls = acted.carry, acted.exploration, self._calls + 1
        actions = np.asarray(actions)
        return actions[0] if single else actions

    def _network_input(self, obs: Any) -> tuple[jax.Array, bool]:
        """``([B, *obs_shape] of the spec's dtype, whether one observation came)``."""
        space = self.observation_space
        if space is not None and not isinstance(space, gym.spaces.Box):
            single = space.contains(obs)
            obs = observation_to_array(space, stack_observations(space, [obs]) if single else obs)
            return jnp.asarray(obs), single
        shape = self.state.spec.observation_shape
        if isinstance(obs, dict | tuple) or (shape and np.shape(obs)[-len(shape):] != shape):
            raise ValueError(f"this policy takes observations as the networks see them, [B, *{shape}] or {shape}; "
                             f"for the env's raw ones (got {type(obs).__name__} of shape {np.shape(obs)}) give it "
                             "the env's observation_space: run.policy_for(space)")
        dtype = self.state.spec.observation_dtype
        if dtype == "uint8" and np.asarray(obs).dtype != np.uint8:  # a cast would wrap or floor them silently
            raise ValueError(f"this policy reads pixels as the env gives them, uint8 in [0, 255]; got "
                             f"{np.asarray(obs).dtype} observations")
        obs = jnp.asarray(obs, dtype)
        single = obs.ndim == len(shape)
        return (obs[None] if single else obs), single


class LoadedRun(NamedTuple):
    """A saved run: its algorithm name, config, train state, the checkpoint read, and
    :attr:`policy`, a ready ``policy(obs) -> actions`` that acts as ``jaxrl eval`` plays the env."""

    algorithm: str
    config: Any
    state: Any
    checkpoint: Path

    @property
    def policy(self) -> Policy:
        return self.policy_for(None)

    def policy_for(self, observation_space: gym.Space | None, sample_seed: int | None = None,
                   deterministic: bool | None = None) -> Policy:
        """The policy taking raw observations of ``observation_space`` (the env's single one, or None:
        as the networks see them). Greedy, except with ``sample_seed`` or ``deterministic=False``,
        or by default on an ALE game (:func:`~jaxrl.envs.atari.evaluated_stochastically`: a greedy
        agent idles after a lost life): then acting as in training from ``sample_seed`` (default 0),
        see :class:`Policy`. ``deterministic=True`` is greedy whatever the env."""
        if deterministic is None:
            deterministic = sample_seed is None and not evaluated_stochastically(self.config.env)
        return Policy(get_algorithm(self.algorithm).agent_for(self.config), self.state, observation_space,
                      None if deterministic else (sample_seed or 0))


class SeveralSeeds(CheckpointError):
    """A device-loop run of several seeds where one run's agent was asked for; ``seed_dirs``: its
    seeds' sub-runs, each a run of its own."""

    def __init__(self, message: str, seed_dirs: list[Path]):
        super().__init__(message)
        self.seed_dirs = seed_dirs


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None) -> LoadedRun:
    """Config and latest checkpoint (or ``checkpoint``, one of its files) of ``run_dir``;
    :class:`CheckpointError` names what is wrong."""
    run_dir = Path(run_dir)
    try:  # a missing run dir, or a file in its place, is refused here too (load_run_config's not_a_directory)
        algorithm_name, values = load_run_config(run_dir)
        config = config_from_dict(get_algorithm(algorithm_name).config_cls, values)
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    found = latest_good_checkpoint(run_dir) if checkpoint is None else (Path(checkpoint),
                                                                        *read_checkpoint(Path(checkpoint)))
    if found is None:
        raise CheckpointError(f"{run_dir} has no checkpoint that reads back whole "
                              f"(expected {run_dir}/checkpoints/ckpt_*.msgpack)")
    path, meta, state_dict = found[:3]
    if "seeds" in meta:
        first_seed = run_dir / f"seed_{meta['seeds'][0]}"
        if len(meta["seeds"]) == 1 and checkpoint is None and first_seed.is_dir():
            return load_run(first_seed)  # a one-seed device run: its only seed is what was asked for
        raise SeveralSeeds(f"{run_dir} is a device-loop run of seeds {meta['seeds']}: name one seed's sub-run, "
                           f"e.g. {first_seed}", [run_dir / f"seed_{seed}" for seed in meta["seeds"]])
    if meta.get("algorithm") != algorithm_name:
        raise CheckpointError(
            f"checkpoint {path} was written by algorithm {meta.get('algorithm')!r}, config.json says {algorithm_name!r}"
        )
    state = restore_into_template(get_algorithm(algorithm_name).agent_for(config), config, state_dict, path)
    return LoadedRun(algorithm_name, config, state, path)


def restore_into_template(agent: Agent, config: Any, state_dict: dict, path: Path) -> Any:
    """Build a fresh state for ``config`` (the template) and fill it from ``state_dict``."""
    env = make_vector_env(config.env, 1, "sync", env_kwargs=env_kwargs_of(config))
    try:
        spec = HostVectorEnv(env).spec
    finally:
        env.close()
    # one compiled program instead of eager op-by-op compiles (seconds on a CPU); its values are
    # overwritten, except fields added later (FIELDS_ADDED_LATER), which start from constants
    template = jax.jit(lambda key: agent.init(key, spec, config),
                       compiler_options=run_once_compiler_options())(jax.random.PRNGKey(0))
    return restore_state(template, state_dict, path)


def device_env_or_none(env_id: str) -> DeviceEnv | None:
    """The :class:`DeviceEnv` of a JAX env id; ``None`` for an id only gymnasium's host envs run (a
    JAX id that fails to build fails again, with its reason, in the host evaluator)."""
    try:
        return make_device_env(env_id)
    except ValueError:
        return None


class EvalResult(NamedTuple):
    returns: list[float]
    lengths: list[int]
    frames: list[np.ndarray]  # rendered frames of the first episode (empty unless recorded)

    def summary(self) -> dict[str, float | int]:
        return {
            "mean_return": float(np.mean(self.returns)),
            "std_return": float(np.std(self.returns)),
            "episodes": len(self.returns),
            "mean_length": float(np.mean(self.lengths)),
        }


def evaluate(
    agent: Agent,
    state: Any,
    env_id: str,
    episodes: int,
    deterministic: bool,
    seed: int = 0,
    render_mode: str | None = None,
    max_steps: int = 1_000_000,
    on_device: bool = True,
) -> EvalResult:
    """Play ``episodes`` full episodes with ``agent``'s policy; raw (unscaled) returns.
    ``deterministic``: the agent's deterministic (greedy) action; otherwise it acts as it explores
    in training. A recurrent agent's carry is threaded through each episode and reset at its start.

    A JAX env (the device loop's ids) plays all its episodes at once on the device
    (:func:`~jaxrl.loops.evaluate_device.evaluate_on_device`) unless it renders or ``on_device`` is
    False; any other env plays them one after another on one gymnasium env."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    with matmul_precision(state.config.matmul_precision):  # the precision the policy trained at
        return _evaluate(agent, state, env_id, episodes, deterministic, seed, render_mode, max_steps, on_device)


def rendered_frame(env: HostVectorEnv, env_id: str) -> Any:
    """The env's ``rgb_array`` frame; a renderer that fails otherwise than with a gymnasium error (MuJoCo
    without an OpenGL library it can load, a broken display) is one ``ValueError`` naming the env and the cause."""
    try:
        return env.render()
    except gym.error.Error:
        raise  # gymnasium's own (pygame missing) are one line with their install hint
    except Exception as err:  # noqa: BLE001 - any renderer's failure, said in one line
        cause = " ".join(str(err).split())
        raise ValueError(f"{env_id!r} could not render a frame: {type(err).__name__}: {cause} (MuJoCo envs: "
                         f"MUJOCO_GL=egl or osmesa picks an off-screen OpenGL)") from None


def _evaluate(agent: Agent, state: Any, env_id: str, episodes: int, deterministic: bool, seed: int,
              render_mode: str | None, max_steps: int, on_device: bool) -> EvalResult:
    device_env = device_env_or_none(env_id) if on_device and render_mode is None else None
    if device_env is not None:
        returns, lengths = evaluate_on_device(agent, state, device_env, episodes, deterministic, seed, max_steps)
        return EvalResult(returns, lengths, [])
    record_video = render_mode == "rgb_array"
    if render_mode is not None:
        prepare_rendering(render_mode)
    env_kwargs = env_kwargs_of(state.config) if env_id == state.config.env else None  # the run's env's arguments
    env = HostVectorEnv(make_vector_env(env_id, 1, "sync", render_mode=render_mode, env_kwargs=env_kwargs))
    tracker = EpisodeTracker(1)
    returns, lengths, frames = [], [], []
    key = jax.random.PRNGKey(seed)
    try:
        actor_input = initial_actor_input(agent, state, env.reset(seed=seed))
        if record_video:
            frames.append(rendered_frame(env, env_id))
        explore = None if deterministic else jitted_exploring_step(agent)
        for step_index in range(max_steps):
            actions, actor_input = act_for_evaluation(agent.act, explore, state, actor_input, key, step_index)
            step = env.step(np.asarray(actions))
            ended = step.terminated | step.truncated
            tracker.record(step.rewards, ended, step.valid)
            if ended[0]:
                episode_return, episode_length = tracker.finished[-1]
                returns.append(episode_return)
                lengths.append(episode_length)
                if len(returns) == episodes:
                    break
            elif record_video and not returns:
                frames.append(rendered_frame(env, env_id))
            actor_input = actor_input._replace(obs=step.obs, episode_start=step.obs_is_reset)
    finally:
        env.close()
    require_all_ended(len(returns), episodes, max_steps)
    return EvalResult(returns, lengths, [f for f in frames if f is not None])
