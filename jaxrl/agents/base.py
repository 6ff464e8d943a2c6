"""The parts of the :class:`~jaxrl.types.Agent` contract most agents share: no exploration
state of their own, no recurrent carry, and the "zero noise" reading of ``noise=None``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.config import counted
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


def clip_by_global_norm(grads: Any, max_norm: jax.Array) -> tuple[Any, jax.Array]:
    """``grads`` scaled by ``min(1, max_norm / norm)`` and their global L2 ``norm`` before the clip.

    ``max_norm`` may be ``inf`` (no clip: the scale is 1). One pytree in, the same structure out."""
    norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
    scale = jnp.minimum(1.0, max_norm / (norm + 1e-6))
    return jax.tree.map(lambda g: g * scale, grads), norm


def parameter_norm(params: Any) -> jax.Array:
    """The global L2 norm of every leaf of ``params`` (a metric: a non-finite parameter shows in it).

    Taken over the leaves concatenated into one vector: one reduction for XLA to compile, where
    a sum of per-leaf norms (``optax.tree.norm``) is a few kernels per leaf on XLA:CPU (9 fewer
    in PPO's CartPole device program)."""
    return jnp.linalg.norm(jnp.concatenate([leaf.ravel() for leaf in jax.tree.leaves(params)]))


def as_float_observations(obs: jax.Array) -> jax.Array:
    """uint8 pixel observations (:attr:`EnvSpec.observation_dtype`) as float32 in ``[0, 1]``; others as they are.
    Normalised observations (float already) pass unchanged, so the scaling happens once."""
    return obs.astype(jnp.float32) * (1.0 / 255.0) if obs.dtype == jnp.uint8 else obs


def flat_observations(obs: jax.Array, spec: EnvSpec, privileged: bool = False) -> jax.Array:
    """``[..., *obs_shape] -> [..., spec.policy_size]``: what a policy reads, flat (the MLPs read
    image- or grid-shaped observations, MinAtar ``[10, 10, C]``, ``DeepSea-bsuite`` ``[8, 8]``, as
    vectors). ``privileged``: all ``prod(obs_shape)`` entries, the env's privileged ones included
    (an asymmetric critic's input). uint8 pixels become float32 in ``[0, 1]`` here, the one place every
    agent's networks read observations through."""
    batch_shape = obs.shape[: obs.ndim - len(spec.observation_shape)]
    flat = as_float_observations(obs).reshape((*batch_shape, -1))
    return flat if privileged or not spec.privileged_size else flat[..., : spec.policy_size]


def require_discrete(spec: EnvSpec, algorithm: str) -> None:
    """``ValueError`` naming the algorithm when the env's actions are not one Discrete choice (a Box,
    or several components: its Q-network gives one value per action)."""
    if spec.action_nvec:
        raise ValueError(f"{algorithm} needs a Discrete action space, but this env's actions have "
                         f"{len(spec.action_nvec)} components (MultiDiscrete/MultiBinary {list(spec.action_nvec)}); "
                         "use `jaxrl train ppo` for them")
    if not spec.discrete:
        raise ValueError(f"{algorithm} needs a Discrete action space, but this env's actions are a Box of "
                         f"{counted(spec.action_dim, 'dimension')}; use `jaxrl train ppo`, sac or td3 for continuous "
                         "actions")
