"""Off-policy building blocks: TD targets, Polyak averaging, Box rescaling."""

from __future__ import annotations

from typing import Any

import jax


def td_target(
    rewards: jax.Array, next_q: jax.Array, terminated: jax.Array, gamma: float | jax.Array
) -> jax.Array:
    """``r + gamma * (1 - terminated) * next_q``, all ``[N]``.

    Uses ``terminated`` only: a time-limit truncation still bootstraps from ``next_q``.
    """
    return rewards + gamma * (1.0 - terminated.astype(rewards.dtype)) * next_q


def soft_update(target: Any, online: Any, tau: float | jax.Array) -> Any:
    """Polyak average ``tau * online + (1 - tau) * target`` leaf by leaf."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def to_box(unit_actions: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """Map ``[-1, 1]`` to ``[low, high]`` per dimension."""
    return low + 0.5 * (unit_actions + 1.0) * (high - low)


def from_box(actions: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """Inverse of :func:`to_box`."""
    return 2.0 * (actions - low) / (high - low) - 1.0
