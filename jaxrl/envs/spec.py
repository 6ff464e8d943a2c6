"""Turn gymnasium spaces into an :class:`~jaxrl.types.EnvSpec`, or say why not."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.types import EnvSpec

SUPPORTED = (
    "observations: Box (any shape) or Discrete (one-hot encoded); "
    "actions: Discrete or a 1-D Box with finite bounds"
)


class UnsupportedSpaceError(ValueError):
    """The environment's observation or action space is not one jaxrl handles."""


# gymnasium metadata key of an env whose flat observations end in privileged_size critic-only
# entries (EnvSpec.privileged_size); set by jaxrl.envs.device.DeviceEnvAsGym
PRIVILEGED_SIZE_KEY = "jaxrl_privileged_size"


def spec_from_spaces(observation_space: gym.Space, action_space: gym.Space) -> EnvSpec:
    """Build the spec of a *single* env's spaces; raises :class:`UnsupportedSpaceError`."""
    if isinstance(observation_space, gym.spaces.Box):
        observation_shape = tuple(int(d) for d in observation_space.shape)
    elif isinstance(observation_space, gym.spaces.Discrete):
        observation_shape = (int(observation_space.n),)
    else:
        raise UnsupportedSpaceError(
            f"unsupported observation space {observation_space}; supported {SUPPORTED}"
        )
    if isinstance(action_space, gym.spaces.Discrete):
        if int(action_space.start) != 0:
            raise UnsupportedSpaceError(f"Discrete action spaces must start at 0, got {action_space}")
        return EnvSpec(observation_shape, discrete=True, action_dim=int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        low, high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise UnsupportedSpaceError(
                f"Box action space {action_space} has infinite bounds; jaxrl clips actions to the "
                "bounds, so wrap the env with gymnasium.wrappers.ClipAction or RescaleAction first"
            )
        return EnvSpec(
            observation_shape,
            discrete=False,
            action_dim=int(action_space.shape[0]),
            action_low=tuple(float(x) for x in low),
            action_high=tuple(float(x) for x in high),
        )
    raise UnsupportedSpaceError(f"unsupported action space {action_space}; supported {SUPPORTED}")


def observation_to_array(observation_space: gym.Space, obs: np.ndarray) -> np.ndarray:
    """Batched raw observations ``[B, ...]`` -> float32 ``[B, *observation_shape]``."""
    if isinstance(observation_space, gym.spaces.Discrete):
        one_hot = np.zeros((len(obs), int(observation_space.n)), np.float32)
        one_hot[np.arange(len(obs)), np.asarray(obs) - int(observation_space.start)] = 1.0
        return one_hot
    return np.asarray(obs, dtype=np.float32)


def uniform_actions(spec: EnvSpec, key: jax.Array, num_envs: int) -> jax.Array:
    """Uniformly random actions ``[num_envs]`` int32 (discrete) or ``[num_envs, A]`` in the Box bounds."""
    if spec.discrete:
        return jax.random.randint(key, (num_envs,), 0, spec.action_dim)
    low, high = jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32)
    return jax.random.uniform(key, (num_envs, spec.action_dim), minval=low, maxval=high)


def uniform_actions_numpy(spec: EnvSpec, rng: np.random.Generator, num_envs: int) -> np.ndarray:
    """:func:`uniform_actions` on the host, from a NumPy generator (whose state a checkpoint keeps)."""
    if spec.discrete:
        return rng.integers(0, spec.action_dim, num_envs).astype(np.int32)
    low, high = np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32)
    return rng.uniform(low, high, (num_envs, spec.action_dim)).astype(np.float32)
