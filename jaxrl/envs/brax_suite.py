"""brax's envs (``brax/<name>``: ant, halfcheetah, hopper, humanoid, ...; extra ``brax``) as
:class:`~jaxrl.envs.device.DeviceEnv`.

The env is used raw, without brax's training wrappers: its ``done`` is termination only (ant,
hopper, humanoid, walker2d fall over; halfcheetah never terminates), and jaxrl's
:func:`~jaxrl.envs.device.with_autoreset` adds the time limit (:data:`EPISODE_LENGTH`, brax's
own training default) as truncation and keeps the true final observation. brax's
``EpisodeWrapper``/``AutoResetWrapper`` would instead fold the limit into ``done`` (with
``info["truncation"]``) and write the reset observation over the final one.

Physics backend: brax's ``mjx`` pipeline (MuJoCo's JAX implementation) unless
``JAXRL_BRAX_BACKEND`` names another (``generalized``, ``positional``, ``spring``); mjx is
the maintained one and the fastest of them on this CPU (ant: 23k env steps/s at 256 envs,
against 10k for ``positional``). Frames for ``eval --video`` come from MuJoCo's renderer,
which needs an OpenGL context: EGL is picked where Linux has no display (``MUJOCO_GL`` overrides).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax
import numpy as np

from jaxrl.envs.device import DeviceEnv, traced_env
from jaxrl.envs.suites import MujocoFrames, environment_choice, import_suite, installed_names, unknown_name

PREFIX = "brax/"
EXTRA = "brax"
PACKAGE = "brax.envs"  # what is imported
DISTRIBUTION = "brax"  # the pip distribution that gives its version
EPISODE_LENGTH = 1000
BACKEND_VARIABLE = "JAXRL_BRAX_BACKEND"
BACKENDS = ("mjx", "generalized", "positional", "spring")


def names() -> list[str]:
    """brax's registered env names where brax imports, else none."""
    return sorted(installed_names(PACKAGE, lambda envs: envs._envs))


def backend() -> str:
    """The physics backend :data:`BACKEND_VARIABLE` picks (default ``mjx``); one line if it is unknown."""
    return environment_choice(BACKEND_VARIABLE, BACKENDS, "a brax backend")


def make(env_id: str) -> DeviceEnv:
    """The :class:`DeviceEnv` for ``brax/<name>``; a one-line ``ValueError`` where it cannot run."""
    envs = import_suite(PACKAGE, env_id, EXTRA)
    name = env_id[len(PREFIX):]
    if name not in envs._envs:
        raise unknown_name("brax", PREFIX, name, sorted(envs._envs))
    chosen_backend = backend()
    try:
        env = envs.get_environment(name, backend=chosen_backend)
    except Exception as err:  # noqa: BLE001 - the suite failing to build its model, said with the env's name
        raise ValueError(f"{env_id} cannot be built here: {type(err).__name__}: {err}") from None
    action_space = gym.spaces.Box(-1.0, 1.0, (int(env.action_size),), np.float32)

    def raw_reset(key: jax.Array) -> tuple[Any, jax.Array]:
        state = env.reset(key)
        return state, state.obs

    def raw_step(state: Any, action: jax.Array, key: jax.Array):
        del key  # brax's dynamics are deterministic
        next_state = env.step(state, action)
        return next_state, next_state.obs, next_state.reward, next_state.done > 0.5

    frames = MujocoFrames(env.sys.mj_model)

    def render_frame(state: Any) -> np.ndarray:
        pipeline = state.pipeline_state
        return frames(pipeline.qpos if hasattr(pipeline, "qpos") else pipeline.q)

    return traced_env(env_id, EPISODE_LENGTH, raw_reset, raw_step, action_space, render_frame)

