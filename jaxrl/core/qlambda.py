"""Q(lambda) returns over a time-major rollout, the targets of PQN.

With ``q_t = max_a Q(s'_t, a)`` the greedy value of the true next observation of step ``t``:

    G_t = r_t + gamma * (1 - terminated_t) * ((1 - lambda) * q_t + lambda * G_{t+1})

where step ``t + 1`` continues step ``t``'s episode inside the rollout; where it does not
(``terminated_t`` or ``truncated_t``, or ``t`` is the last step) the bracket is just ``q_t``:
a truncation bootstraps from the value of its real final observation and cuts the
recursion, a termination bootstraps from nothing. ``lambda = 0`` is the one-step target.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.core.gae import reverse_linear_recurrence


def q_lambda_returns(
    rewards: jax.Array,
    next_max_q: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    q_lambda: float | jax.Array,
) -> jax.Array:
    """``G [T, B]`` from ``rewards``, ``next_max_q``, ``terminated`` and ``truncated``, all ``[T, B]``."""
    rewards, terminated, truncated = jnp.asarray(rewards), jnp.asarray(terminated), jnp.asarray(truncated)
    not_terminal = 1.0 - terminated.astype(rewards.dtype)
    continues = (~(terminated | truncated)).at[-1].set(False).astype(rewards.dtype)
    # G_t = bias_t + decay_t * G_{t+1}: a linear recurrence, solved by the GAE module's scan.
    bias = rewards + gamma * not_terminal * (1.0 - q_lambda * continues) * next_max_q
    decay = gamma * not_terminal * q_lambda * continues
    return reverse_linear_recurrence(bias, decay)
