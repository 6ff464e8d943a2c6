"""Turn gymnasium spaces into an :class:`~jaxrl.types.EnvSpec`, or say why not."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector.utils import concatenate, create_empty_array

from jaxrl.types import EnvSpec

SUPPORTED = (
    "observations: Box (any shape kept), or Discrete, MultiDiscrete, MultiBinary and Dict or Tuple of "
    "these and Boxes (flattened to one vector, discrete parts one-hot); "
    "actions: Discrete, 1-D MultiDiscrete or MultiBinary (PPO), or a 1-D Box with finite bounds"
)


class UnsupportedSpaceError(ValueError):
    """The environment's observation or action space is not one jaxrl handles."""


# gymnasium metadata key of an env whose flat observations end in privileged_size critic-only
# entries (EnvSpec.privileged_size); set by jaxrl.envs.device.DeviceEnvAsGym
PRIVILEGED_SIZE_KEY = "jaxrl_privileged_size"


def spec_from_spaces(observation_space: gym.Space, action_space: gym.Space) -> EnvSpec:
    """Build the spec of a *single* env's spaces; raises :class:`UnsupportedSpaceError`."""
    spec = _action_spec(observation_shape_of(observation_space), action_space)
    return dataclasses.replace(spec, observation_dtype=observation_dtype_of(observation_space))


def _action_spec(observation_shape: tuple[int, ...], action_space: gym.Space) -> EnvSpec:
    """The spec of ``action_space`` beside observations of ``observation_shape`` (float32)."""
    if isinstance(action_space, gym.spaces.Discrete):
        if int(action_space.start) != 0:
            raise UnsupportedSpaceError(f"Discrete action spaces must start at 0, got {one_line(action_space)}")
        return EnvSpec(observation_shape, discrete=True, action_dim=int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        low, high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise UnsupportedSpaceError(
                f"Box action space {one_line(action_space)} has infinite bounds; jaxrl clips actions to the "
                "bounds, so wrap the env with gymnasium.wrappers.ClipAction or RescaleAction first"
            )
        return EnvSpec(
            observation_shape,
            discrete=False,
            action_dim=int(action_space.shape[0]),
            action_low=tuple(float(x) for x in low),
            action_high=tuple(float(x) for x in high),
        )
    if isinstance(action_space, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary) and len(action_space.shape) == 1:
        nvec = action_nvec(action_space)
        return EnvSpec(observation_shape, discrete=True, action_dim=sum(nvec), action_nvec=nvec)
    raise UnsupportedSpaceError(f"unsupported action space {one_line(action_space)}; supported {SUPPORTED}")


def one_line(space: gym.Space) -> str:
    """A space as one line for an error (a multi-dimensional MultiDiscrete prints its array on several)."""
    return " ".join(str(space).split())


def action_nvec(action_space: gym.spaces.MultiDiscrete | gym.spaces.MultiBinary) -> tuple[int, ...]:
    """Choices per component of a 1-D MultiDiscrete (starting at 0) or MultiBinary space."""
    if isinstance(action_space, gym.spaces.MultiBinary):
        return (2,) * int(action_space.shape[0])
    if np.any(action_space.start != 0):
        raise UnsupportedSpaceError(f"MultiDiscrete action spaces must start at 0, got {one_line(action_space)}")
    return tuple(int(n) for n in action_space.nvec)


def observation_shape_of(space: gym.Space) -> tuple[int, ...]:
    """What the networks see of one observation: a Box's own shape (images stay images), any
    other supported space flattened to ``(flat size,)``; raises :class:`UnsupportedSpaceError`."""
    if isinstance(space, gym.spaces.Box):
        return tuple(int(d) for d in space.shape)
    return (flat_size(space),)


def is_pixel_space(space: gym.Space) -> bool:
    """Whether ``space`` holds pixels: a uint8 Box bounded by exactly 0 and 255 (Atari frames, CarRacing),
    the rule Stable-Baselines3 uses to scale image observations."""
    return (isinstance(space, gym.spaces.Box) and space.dtype == np.uint8
            and bool(np.all(space.low == 0)) and bool(np.all(space.high == 255)))


def observation_dtype_of(space: gym.Space) -> str:
    """The dtype observations of ``space`` reach the agent in: uint8 for pixels, else float32."""
    return "uint8" if is_pixel_space(space) else "float32"


def flat_size(space: gym.Space) -> int:
    """Length of ``space`` flattened as :func:`observation_to_array` does (``gymnasium.spaces.flatdim``'s)."""
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        return int(np.prod(space.shape))
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    if isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, gym.spaces.Dict) else space.spaces
        return sum(flat_size(part) for part in parts)
    raise UnsupportedSpaceError(f"unsupported observation space {one_line(space)}; supported {SUPPORTED}")


def observation_to_array(observation_space: gym.Space, obs: Any) -> np.ndarray:
    """Batched raw observations (a vector env's: arrays ``[B, ...]``, dicts or tuples of them) ->
    ``[B, *observation_shape_of(observation_space)]`` of :func:`observation_dtype_of` (float32, uint8
    pixels). Row ``i`` equals ``gymnasium.spaces.flatten(observation_space, obs_i)`` for every space
    but a Box, which keeps its shape."""
    if isinstance(observation_space, gym.spaces.Box):
        return np.asarray(obs, dtype=observation_dtype_of(observation_space))
    return np.concatenate(flat_parts(observation_space, obs), axis=1)


def flat_parts(space: gym.Space, obs: Any) -> list[np.ndarray]:
    """The float32 ``[B, k]`` pieces of a batch flattened, in ``gymnasium.spaces.flatten``'s order."""
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        obs = np.asarray(obs)
        return [obs.reshape(len(obs), -1).astype(np.float32)]
    if isinstance(space, gym.spaces.Discrete):
        return [one_hot(np.asarray(obs) - int(space.start), int(space.n))]
    if isinstance(space, gym.spaces.MultiDiscrete):  # one one-hot block per component
        obs = np.asarray(obs)
        indices = (obs - space.start).reshape(len(obs), -1)
        return [one_hot(indices[:, i], int(n)) for i, n in enumerate(space.nvec.reshape(-1))]
    if isinstance(space, gym.spaces.Dict):
        return [part for key, sub in space.spaces.items() for part in flat_parts(sub, obs[key])]
    if isinstance(space, gym.spaces.Tuple):
        return [part for sub, sub_obs in zip(space.spaces, obs) for part in flat_parts(sub, sub_obs)]
    raise UnsupportedSpaceError(f"unsupported observation space {one_line(space)}; supported {SUPPORTED}")


def one_hot(indices: np.ndarray, n: int) -> np.ndarray:
    """``[B]`` integer indices in ``[0, n)`` -> float32 ``[B, n]``."""
    encoded = np.zeros((len(indices), n), np.float32)
    encoded[np.arange(len(indices)), indices] = 1.0
    return encoded


def stack_observations(observation_space: gym.Space, items: list[Any]) -> Any:
    """Single raw observations (a vector env's ``final_obs`` entries) as one batch of that space."""
    return concatenate(observation_space, items, create_empty_array(observation_space, len(items)))


def uniform_actions(spec: EnvSpec, key: jax.Array, num_envs: int) -> jax.Array:
    """Uniformly random actions ``[num_envs, *spec.action_shape]``: int32 (discrete) or in the Box bounds."""
    if spec.action_nvec:
        return jax.random.randint(key, (num_envs, len(spec.action_nvec)), 0, jnp.asarray(spec.action_nvec))
    if spec.discrete:
        return jax.random.randint(key, (num_envs,), 0, spec.action_dim)
    low, high = jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32)
    return jax.random.uniform(key, (num_envs, spec.action_dim), minval=low, maxval=high)


def uniform_actions_numpy(spec: EnvSpec, rng: np.random.Generator, num_envs: int) -> np.ndarray:
    """:func:`uniform_actions` on the host, from a NumPy generator (whose state a checkpoint keeps)."""
    if spec.action_nvec:
        return rng.integers(0, spec.action_nvec, (num_envs, len(spec.action_nvec))).astype(np.int32)
    if spec.discrete:
        return rng.integers(0, spec.action_dim, num_envs).astype(np.int32)
    low, high = np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32)
    return rng.uniform(low, high, (num_envs, spec.action_dim)).astype(np.float32)
