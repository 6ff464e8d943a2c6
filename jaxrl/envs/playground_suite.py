"""MuJoCo Playground's envs (``playground/<EnvName>``, extra ``playground``) as
:class:`~jaxrl.envs.device.DeviceEnv`.

The env is used raw, without Playground's ``wrap_for_brax_training``: that wrapper folds the
time limit into ``done`` (with ``info["truncation"]``) and writes the reset observation over
the terminal one. Here the env's ``done`` is termination only, jaxrl's
:func:`~jaxrl.envs.device.with_autoreset` adds the time limit (the env config's
``episode_length``) as truncation and keeps the true final observation for bootstrapping.

Dict observations (locomotion, manipulation): the policy reads the ``state`` entry. Where the
dict also has ``privileged_state``, it is flattened onto the end of the observation and the spec's
``privileged_size`` says how many entries it is: policies never read them, PPO's critic does with
``asymmetric_critic=True``.

Physics backend: MJX's JAX implementation (``impl="jax"``) unless ``JAXRL_PLAYGROUND_IMPL=warp``
picks MuJoCo Warp (Playground's own default, which needs an NVIDIA GPU and ``warp-lang``).
The locomotion and manipulation envs load robot models from MuJoCo Menagerie, which Playground
clones from GitHub on first use (into its package folder); without network access only the
DM-Control-suite envs (``CartpoleBalance``, ``PendulumSwingup``, ``CheetahRun``, ...) load.
Frames for ``eval --video`` come from MuJoCo's renderer, which needs an OpenGL context: EGL is
picked where Linux has no display (``MUJOCO_GL`` overrides).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.device import DeviceEnv, traced_env
from jaxrl.envs.suites import MujocoFrames, environment_choice, import_suite, installed_names, unknown_name

PREFIX = "playground/"
EXTRA = "playground"
PACKAGE = "mujoco_playground"  # what is imported
DISTRIBUTION = "playground"  # the pip distribution that gives its version
IMPL_VARIABLE = "JAXRL_PLAYGROUND_IMPL"
IMPLS = ("jax", "warp")
POLICY_OBSERVATION = "state"  # the entry of a dict observation the policy reads
PRIVILEGED_OBSERVATION = "privileged_state"  # the entry an asymmetric critic also reads
# Playground's DM-Control-suite envs (ship with the package; one shared preset per agent)
DM_CONTROL_NAMES = (
    "AcrobotSwingup", "AcrobotSwingupSparse", "BallInCup", "CartpoleBalance", "CartpoleBalanceSparse",
    "CartpoleSwingup", "CartpoleSwingupSparse", "CheetahRun", "FingerSpin", "FingerTurnEasy", "FingerTurnHard",
    "FishSwim", "HopperHop", "HopperStand", "HumanoidStand", "HumanoidWalk", "HumanoidRun", "PendulumSwingup",
    "PointMass", "ReacherEasy", "ReacherHard", "SwimmerSwimmer6", "WalkerRun", "WalkerStand", "WalkerWalk",
)
DM_CONTROL_IDS = tuple(PREFIX + name for name in DM_CONTROL_NAMES)


def names() -> list[str]:
    """Playground's env names where it imports, else none."""
    return list(installed_names(PACKAGE, lambda playground: playground.registry.ALL_ENVS))


def impl() -> str:
    """The MJX implementation :data:`IMPL_VARIABLE` picks (default ``jax``); one line if unknown."""
    return environment_choice(IMPL_VARIABLE, IMPLS, "an MJX implementation")


def policy_observation(env_id: str, obs: Any) -> jax.Array:
    """The observation jaxrl's agents get: the env's array, or of a dict its ``state`` entry, with
    the ``privileged_state`` entry (flattened) after it where the dict has one."""
    if not isinstance(obs, Mapping):
        return obs
    if POLICY_OBSERVATION not in obs:
        raise ValueError(f"{env_id} observes a dict without a {POLICY_OBSERVATION!r} entry "
                         f"(it has {', '.join(obs)}); jaxrl's policies read that entry")
    if PRIVILEGED_OBSERVATION not in obs:
        return obs[POLICY_OBSERVATION]
    return jnp.concatenate([jnp.ravel(obs[POLICY_OBSERVATION]), jnp.ravel(obs[PRIVILEGED_OBSERVATION])])


def privileged_size(obs: Any) -> int:
    """Entries of ``privileged_state`` in a (traced) observation; 0 where there is none."""
    return math.prod(obs[PRIVILEGED_OBSERVATION].shape) if isinstance(obs, Mapping) and \
        PRIVILEGED_OBSERVATION in obs else 0


def make(env_id: str) -> DeviceEnv:
    """The :class:`DeviceEnv` for ``playground/<EnvName>``; a one-line ``ValueError`` where it cannot run."""
    playground = import_suite(PACKAGE, env_id, EXTRA)
    name = env_id[len(PREFIX):]
    if name not in playground.registry.ALL_ENVS:
        raise unknown_name("Playground", PREFIX, name, list(playground.registry.ALL_ENVS))
    chosen_impl = impl()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            # Playground prints a download progress bar (and its failure) where Menagerie is missing
            config = playground.registry.get_default_config(name)
            env = playground.registry.load(name, config=config, config_overrides={"impl": chosen_impl})
    except Exception as err:  # noqa: BLE001 - e.g. Menagerie's git clone failing offline, said in one line
        reason = str(err).splitlines()[0] if str(err) else ""
        hint = (" (Playground clones MuJoCo Menagerie from GitHub for this env on first use)"
                if "clone" in f"{type(err).__name__} {reason}".lower() or "git" in reason else "")
        raise ValueError(f"{env_id} cannot be built here: {type(err).__name__}: {reason}{hint}") from None
    action_space = gym.spaces.Box(-1.0, 1.0, (int(env.action_size),), np.float32)

    def raw_reset(key: jax.Array) -> tuple[Any, jax.Array]:
        state = env.reset(key)
        return state, policy_observation(env_id, state.obs)

    def raw_step(state: Any, action: jax.Array, key: jax.Array):
        del key  # Playground keeps its own key in state.info["rng"]
        next_state = env.step(state, action)
        return next_state, policy_observation(env_id, next_state.obs), next_state.reward, next_state.done > 0.5

    frames = MujocoFrames(env.mj_model)

    def render_frame(state: Any) -> np.ndarray:
        return frames(state.data.qpos)

    return traced_env(env_id, int(config.episode_length), raw_reset, raw_step, action_space, render_frame,
                      lambda state: privileged_size(state.obs))
