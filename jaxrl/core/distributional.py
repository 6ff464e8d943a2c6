"""Categorical (C51) return distributions for the off-policy critics.

A critic with ``num_atoms`` outputs gives logits over a fixed support of ``num_atoms`` evenly
spaced returns in ``[v_min, v_max]`` (Bellemare et al., 2017; FastTD3 uses it for TD3). The
Bellemare target moves every atom ``z_j`` to ``r + discount * z_j`` and splits its probability
between the two support atoms around it, in proportion to closeness; here that split is written
as a "triangle" weight ``max(0, 1 - |b_j - i|)`` of each moved atom ``j`` (at fractional index
``b_j``) on each support index ``i``, which gives the same two shares and all of the mass to one
atom when ``b_j`` lands on it exactly, without a scatter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def categorical_support(num_atoms: int, v_min: float, v_max: float) -> jax.Array:
    """The ``[num_atoms]`` returns the critic's logits are over, ``v_min`` to ``v_max``."""
    return jnp.linspace(v_min, v_max, num_atoms, dtype=jnp.float32)


def expected_values(logits: jax.Array, support: jax.Array) -> jax.Array:
    """The mean return ``[...]`` of ``logits [..., K]`` over ``support [K]``."""
    return jax.nn.softmax(logits, axis=-1) @ support


def project_onto_support(atoms: jax.Array, probs: jax.Array, support: jax.Array) -> jax.Array:
    """The distribution ``[N, K]`` on ``support [K]`` closest (in Cramer distance) to atoms at
    ``atoms [N, J]`` with probabilities ``probs [N, J]``; atoms outside the support are clipped to its ends."""
    v_min, v_max = support[0], support[-1]
    spacing = (v_max - v_min) / (support.shape[0] - 1)
    positions = (jnp.clip(atoms, v_min, v_max) - v_min) / spacing  # [N, J] fractional support indices
    indices = jnp.arange(support.shape[0], dtype=atoms.dtype)  # [K]
    weights = jnp.clip(1.0 - jnp.abs(positions[:, :, None] - indices[None, None, :]), 0.0, 1.0)  # [N, J, K]
    return jnp.einsum("nj,njk->nk", probs, weights)


def distributional_target(next_logits: jax.Array, support: jax.Array, returns: jax.Array, discount: jax.Array,
                          terminated: jax.Array, shift: jax.Array | float = 0.0) -> jax.Array:
    """The projected target distribution ``[N, K]`` for a critic ensemble's next-state logits
    ``next_logits [C, N, K]``: per item the member with the lowest mean (clipped double Q), its
    atoms moved to ``returns + discount * (1 - terminated) * (support + shift)``.

    ``returns``, ``discount``, ``terminated [N]``; ``shift [N]`` (SAC: ``-alpha * log_prob``).
    A termination puts all the mass at ``returns``; a truncation still bootstraps."""
    member = jnp.argmin(expected_values(next_logits, support), axis=0)  # [N]
    chosen = jnp.take_along_axis(next_logits, member[None, :, None], axis=0)[0]  # [N, K]
    scale = discount * (1.0 - terminated.astype(returns.dtype))
    atoms = returns[:, None] + scale[:, None] * (support[None, :] + jnp.reshape(shift, (-1, 1)))
    return project_onto_support(atoms, jax.nn.softmax(chosen, axis=-1), support)


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """``-sum_k target_k log softmax(logits)_k`` over the last axis: ``[C, N, K], [N, K] -> [C, N]``."""
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)
