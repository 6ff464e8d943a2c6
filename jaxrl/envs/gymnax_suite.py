"""gymnax envs (``gymnax/<name>``, extra ``gymnax``) as :class:`~jaxrl.envs.device.DeviceEnv`.

Both gymnax lines map onto the protocol:

* 1.x: ``step_env`` returns termination only (``is_terminated``); the time limit is
  ``is_truncated``, which :func:`with_autoreset` applies itself.
* 0.0.9: ``done`` folds the time limit in, so its time-limit part becomes ``truncated``
  (an env that terminates on its last allowed step is then counted as truncated: 0.0.9
  cannot tell the two apart).

MinAtar's games render for ``eval --video`` from their observation grid (:func:`minatar_frame`);
the other gymnax envs have no renderer here.

``step_env`` is called without gymnax's own auto-reset, so the true final observation is what
``next_obs`` carries. Observations become float32; a ``Discrete`` observation space
(``FrozenLake-misc``) is one-hot encoded. The shapes are read from what ``reset`` and ``step``
return (``jax.eval_shape``, nothing runs), not from the declared space, which some envs get
wrong (``FourRooms-misc`` returns int32, ``Catch-bsuite`` declares int32); an env whose reset and
step observations differ, or that cannot be built here, is refused by name with the reason.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.device import DeviceEnv, traced_env
from jaxrl.envs.suites import import_suite, installed_names, unknown_name

PREFIX = "gymnax/"
EXTRA = "gymnax"
PACKAGE = "gymnax"  # what is imported; the pip distribution of the same name gives its version
DISTRIBUTION = "gymnax"
# gymnax's MinAtar games (10x10 grids with 4-10 channels), which PPO, PQN and DQN have presets for
MINATAR_IDS = tuple(f"{PREFIX}{game}-MinAtar" for game in ("Asterix", "Breakout", "Freeway", "Seaquest",
                                                            "SpaceInvaders"))


def import_gymnax(env_id: str) -> Any:
    """gymnax, or a ``ValueError`` giving the real reason it does not import."""
    return import_suite(PACKAGE, env_id, EXTRA)


def names() -> list[str]:
    """gymnax's env names where gymnax imports, else none."""
    return installed_names(PACKAGE, lambda gymnax: gymnax.registered_envs)


# one colour per MinAtar channel (paddle, ball, trail, bricks, ...: 4-10 of them), on black
MINATAR_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                            [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]], np.uint8)
MINATAR_CELL_PIXELS = 16  # a 10x10 grid becomes a 160x160 frame


def minatar_frame(grid: np.ndarray) -> np.ndarray:
    """An RGB frame ``[10 * 16, 10 * 16, 3]`` uint8 of a MinAtar observation ``grid [10, 10, C]``: each
    cell takes the colour of its highest active channel, black where none is."""
    active = np.asarray(grid) > 0.5
    channel = active.shape[-1] - 1 - np.argmax(active[..., ::-1], axis=-1)  # the highest active channel
    cells = np.where(active.any(axis=-1)[..., None], MINATAR_COLOURS[channel % len(MINATAR_COLOURS)], 0)
    return np.kron(cells, np.ones((MINATAR_CELL_PIXELS, MINATAR_CELL_PIXELS, 1))).astype(np.uint8)


def _action_space(space: Any) -> gym.Space:
    if hasattr(space, "n"):
        return gym.spaces.Discrete(int(space.n))
    shape = tuple(space.shape)
    low = np.broadcast_to(np.asarray(space.low, np.float32), shape)
    high = np.broadcast_to(np.asarray(space.high, np.float32), shape)
    return gym.spaces.Box(low=low, high=high, shape=shape, dtype=np.float32)


def observation_encoder(space: Any):
    """float32 observations; one-hot for a ``Discrete`` observation space (no ``low``/``high``)."""
    if hasattr(space, "n"):
        return lambda obs: jax.nn.one_hot(obs, int(space.n), dtype=jnp.float32)
    return lambda obs: jnp.asarray(obs, jnp.float32)


def make(env_id: str) -> DeviceEnv:
    """The :class:`DeviceEnv` for ``gymnax/<name>``; ``ValueError`` naming the env and the reason
    where it cannot run."""
    gymnax = import_gymnax(env_id)
    name = env_id[len(PREFIX):]
    if name not in gymnax.registered_envs:
        raise unknown_name("gymnax", PREFIX, name, list(gymnax.registered_envs))
    try:
        env, params = gymnax.make(name)
        encode = observation_encoder(env.observation_space(params))
        action_space = _action_space(env.action_space(params))
    except Exception as err:  # noqa: BLE001 - e.g. MNISTBandit-bsuite downloads MNIST when built
        raise ValueError(f"{env_id} cannot be built here: {type(err).__name__}: {err}") from None
    max_steps = int(params.max_steps_in_episode)
    separate_truncation = hasattr(env, "is_truncated")  # gymnax >= 1.0

    def raw_reset(key: jax.Array) -> tuple[Any, jax.Array]:
        obs, state = env.reset_env(key, params)
        return state, encode(obs)

    def raw_step(state: Any, action: jax.Array, key: jax.Array):
        obs, next_state, reward, done, _ = env.step_env(key, state, action, params)
        terminated = jnp.asarray(done, bool)
        if not separate_truncation:
            terminated = terminated & ~(next_state.time >= max_steps)
        return next_state, encode(obs), reward, terminated

    render_frame = (lambda state: minatar_frame(env.get_obs(state, params))) if env_id in MINATAR_IDS else None
    return traced_env(env_id, max_steps, raw_reset, raw_step, action_space, render_frame)

