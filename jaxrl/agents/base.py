"""The parts of the :class:`~jaxrl.types.Agent` contract most agents share: no exploration
state of their own, no recurrent carry, and the "zero noise" reading of ``noise=None``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.types import EnvSpec


def no_exploration(state: Any, num_envs: int) -> None:
    """``init_exploration`` of an agent whose exploration needs no state of its own."""
    return None


def noise_as_is(state: Any, exploration: Any, noise: jax.Array, episode_start: jax.Array) -> tuple[jax.Array, Any]:
    """``explore`` of an agent that acts on its standard noise unchanged (e.g. sampling its policy)."""
    return noise, exploration


def no_carry(state: Any, num_envs: int) -> None:
    """``initial_carry`` of a feed-forward agent."""
    return None


def noise_or_zeros(noise: jax.Array | None, shape: tuple[int, ...]) -> jax.Array:
    """``noise``, or zeros of ``shape`` where ``act`` was asked for the deterministic action
    (``noise=None``): zero Gumbel noise picks the most likely action, zero Gaussian noise the mean."""
    return jnp.zeros(shape, jnp.float32) if noise is None else noise


def flat_observations(obs: jax.Array, spec: EnvSpec) -> jax.Array:
    """``[..., *obs_shape] -> [..., prod(obs_shape)]``: the MLPs read image- or grid-shaped
    observations (MinAtar ``[10, 10, C]``, ``DeepSea-bsuite`` ``[8, 8]``) as flat vectors."""
    batch_shape = obs.shape[: obs.ndim - len(spec.observation_shape)]
    return obs.reshape((*batch_shape, -1))


def require_discrete(spec: EnvSpec, algorithm: str) -> None:
    """``ValueError`` naming the algorithm when the env's actions are a Box."""
    if not spec.discrete:
        raise ValueError(f"{algorithm} needs a Discrete action space, but this env's actions are a Box of "
                         f"{spec.action_dim} dimensions; use `jaxrl train ppo`, sac or td3 for continuous actions")
