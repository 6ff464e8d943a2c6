"""Generalised advantage estimation and discounted returns over time-major rollouts.

Index convention (rlax style), for a rollout of ``T`` steps:

* ``r_t``            reward received after acting at step ``t``;
* ``v_t``            value of the observation the agent acted on at step ``t``;
* ``next_v_t``       value of the *true* next observation of step ``t`` (the final
                     observation when the episode ended at ``t``);
* ``terminated_t``   the episode reached a terminal state at ``t``: no bootstrap;
* ``truncated_t``    the episode was cut (time limit) at ``t``: bootstrap from ``next_v_t``.

Either flag ends the episode, so it cuts the backward recursion.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def _as_float(flag: jax.Array, like: jax.Array) -> jax.Array:
    return jnp.asarray(flag).astype(like.dtype)


def reverse_linear_recurrence(bias: jax.Array, decay: jax.Array) -> jax.Array:
    """``x_t = bias_t + decay_t * x_{t+1}`` for ``t = T-1 .. 0`` with ``x_T = 0``, over the leading axis
    of ``bias`` and ``decay`` (both ``[T, ...]``).

    On a GPU (any backend but the CPU) by an associative scan: a sequential ``lax.scan`` is ``T``
    loop iterations, each costing ~20 us however little it computes (128 steps of GAE for 8 envs
    took 3.1 ms on an H100), while the associative scan is ``O(log T)`` fused elementwise steps.
    On XLA:CPU, where a loop iteration costs ~1 us, the sequential scan is 2-5x faster.
    """
    def compose(later, earlier):  # two affine maps x -> bias + decay * x: the earlier after the later
        later_decay, later_bias = later
        earlier_decay, earlier_bias = earlier
        return earlier_decay * later_decay, earlier_bias + earlier_decay * later_bias

    def associative(bias, decay):
        return lax.associative_scan(compose, (decay, bias), reverse=True)[1]

    def sequential(bias, decay):
        def backward_step(next_x, step):
            step_bias, step_decay = step
            x = step_bias + step_decay * next_x
            return x, x

        return lax.scan(backward_step, jnp.zeros_like(bias[0]), (bias, decay), reverse=True)[1]

    return lax.platform_dependent(bias, decay, cpu=sequential, default=associative)


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    gae_lambda: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets by :func:`reverse_linear_recurrence`; linear in ``T``.

    ``delta_t = r_t + gamma * (1 - terminated_t) * next_v_t - v_t``
    ``A_t = delta_t + gamma * gae_lambda * (1 - (terminated_t or truncated_t)) * A_{t+1}``
    ``returns_t = A_t + v_t``

    Args:
      rewards, values, next_values: float arrays ``[T]`` or ``[T, B]``.
      terminated, truncated: bool or {0, 1} arrays of the same shape.
      gamma, gae_lambda: scalars (may be traced, so they can be vmapped).

    Returns:
      ``(advantages, returns)``, each shaped like ``rewards``.
    """
    rewards = jnp.asarray(rewards)
    terminated = _as_float(terminated, rewards)
    truncated = _as_float(truncated, rewards)
    episode_continues = 1.0 - jnp.maximum(terminated, truncated)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    advantages = reverse_linear_recurrence(deltas, gamma * gae_lambda * episode_continues)
    return advantages, advantages + values


def discounted_returns(
    rewards: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
) -> jax.Array:
    """Monte-Carlo discounted returns with bootstrapping at cuts.

    ``R_t = r_t + gamma * (1 - terminated_t) * (next_v_t if truncated_t or t == T-1 else R_{t+1})``

    Equal to the returns of :func:`gae` with ``gae_lambda = 1`` (tested).

    Args:
      rewards, next_values: float arrays ``[T]`` or ``[T, B]``.
      terminated, truncated: bool or {0, 1} arrays of the same shape.
      gamma: scalar discount.

    Returns:
      ``returns`` shaped like ``rewards``.
    """
    rewards = jnp.asarray(rewards)
    terminated = _as_float(terminated, rewards)
    # Where the recursion is cut (a truncation, or the rollout's last step) the return bootstraps
    # from next_v_t instead of continuing into R_{t+1}.
    cut = jnp.maximum(_as_float(truncated, rewards), jnp.zeros_like(rewards).at[-1].set(1.0))
    not_terminal = 1.0 - terminated
    return reverse_linear_recurrence(rewards + gamma * not_terminal * cut * next_values,
                                     gamma * not_terminal * (1.0 - cut))
