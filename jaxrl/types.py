"""Data containers shared across layers. No logic beyond trivial properties."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
from flax import struct


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an agent needs to know about an environment. Hashable (static under jit).

    Observations reach the agent as float32 arrays of ``observation_shape``
    (a Discrete observation space becomes a one-hot vector).
    """

    observation_shape: tuple[int, ...]
    discrete: bool  # Discrete action space (else Box)
    action_dim: int  # number of actions (discrete) or Box dimension (continuous)
    action_low: tuple[float, ...] | None = None  # Box bounds, None for discrete
    action_high: tuple[float, ...] | None = None


@struct.dataclass
class Rollout:
    """A time-major on-policy batch, ``T`` steps of ``B`` envs.

    ``next_obs`` is the true next observation of every step (the final observation
    where an episode ended), so truncated episodes bootstrap correctly. ``mask`` is 0
    for a step whose action the env ignored (a NEXT_STEP autoreset step).
    """

    obs: jax.Array  # [T, B, *obs_shape]
    actions: jax.Array  # [T, B] int (discrete) or [T, B, action_dim] float, unclipped
    log_probs: jax.Array  # [T, B] log-prob of the action when it was taken
    values: jax.Array  # [T, B] value estimate of obs when acting
    rewards: jax.Array  # [T, B] raw env rewards
    terminated: jax.Array  # [T, B] bool
    truncated: jax.Array  # [T, B] bool
    next_obs: jax.Array  # [T, B, *obs_shape]
    mask: jax.Array  # [T, B] float32 in {0, 1}


@struct.dataclass
class Transition:
    """A batch of off-policy transitions ``[N, ...]``.

    ``next_obs`` is the true next observation (the final one on truncation) and only
    ``terminated`` stops bootstrapping, so time-limit cuts bootstrap.
    """

    obs: jax.Array  # [N, *obs_shape]
    actions: jax.Array  # [N, action_dim], as executed (within the Box bounds)
    rewards: jax.Array  # [N]
    next_obs: jax.Array  # [N, *obs_shape]
    terminated: jax.Array  # [N] float32 in {0, 1}


@struct.dataclass
class RecurrentRollout:
    """A :class:`Rollout` plus what a recurrent policy needs to replay it.

    ``carries[t]`` is the carry that went into step ``t`` (before that step's reset),
    so the carry after step ``t`` is ``carries[t + 1]`` and, for the last step,
    ``final_carry``.
    """

    rollout: Rollout
    carries: Any  # pytree of [T, B, ...]
    episode_starts: jax.Array  # [T, B] bool: obs[t] is the first observation of an episode
    final_carry: Any  # pytree of [B, ...]
