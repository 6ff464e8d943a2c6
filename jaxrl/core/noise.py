"""Exploration as pure functions with explicit state: epsilon-greedy choice, and OU noise.

Ornstein-Uhlenbeck, per-step form (one update per env step, Gaussian increments):

    x_{t+1} = x_t + theta * (mu - x_t) * dt + sigma * eps_t,   eps_t ~ N(0, I)

Its stationary standard deviation is ``sigma / sqrt(1 - (1 - theta * dt)^2)``, which is
``sigma / sqrt(2 * theta * dt)`` to first order in ``theta * dt``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ou_init(num_envs: int, action_dim: int) -> jax.Array:
    """Zero OU state ``[num_envs, action_dim]``."""
    return jnp.zeros((num_envs, action_dim), jnp.float32)


def ou_reset(state: jax.Array, episode_start: jax.Array, mu: float = 0.0) -> jax.Array:
    """Set the state of envs whose episode starts (``episode_start [B]`` bool) back to ``mu``."""
    return jnp.where(episode_start[:, None], mu, state)


def ou_step(
    state: jax.Array, increments: jax.Array, theta: float, sigma: float, dt: float, mu: float = 0.0
) -> jax.Array:
    """One OU update driven by standard normal ``increments [B, A]``; the new state is the noise."""
    return state + theta * (mu - state) * dt + sigma * increments


def ou_stationary_std(theta: float, sigma: float, dt: float) -> float:
    """Exact stationary standard deviation of :func:`ou_step`."""
    decay = 1.0 - theta * dt
    return sigma / (1.0 - decay * decay) ** 0.5


def epsilon_greedy(q: jax.Array, noise: jax.Array | None, epsilon: float | jax.Array) -> jax.Array:
    """Actions ``[B]`` int32 from ``q [B, A]``: the greedy one, or where ``noise[:, 0] < epsilon`` the
    uniformly random action ``floor(noise[:, 1] * A)`` (``noise [B, 2]`` uniform in [0, 1)); greedy
    everywhere when ``noise`` is None."""
    greedy = jnp.argmax(q, axis=-1).astype(jnp.int32)
    if noise is None:
        return greedy
    num_actions = q.shape[-1]
    random = jnp.minimum((noise[..., 1] * num_actions).astype(jnp.int32), num_actions - 1)
    return jnp.where(noise[..., 0] < epsilon, random, greedy)
