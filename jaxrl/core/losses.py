"""PPO losses and statistics over flat minibatches ``[N]`` with an optional mask.

The mask (1 = real transition, 0 = padding or a step whose action the env ignored)
weights every mean, so padded entries never move the gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def masked_mean(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean of ``x`` over entries where ``mask`` is 1 (all entries when ``mask`` is None)."""
    if mask is None:
        return jnp.mean(x)
    mask = mask.astype(x.dtype)
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def normalize_advantages(
    advantages: jax.Array, mask: jax.Array | None = None, eps: float = 1e-8
) -> jax.Array:
    """Zero-mean, unit-std advantages (statistics over masked entries only)."""
    mean = masked_mean(advantages, mask)
    std = jnp.sqrt(masked_mean(jnp.square(advantages - mean), mask))
    return (advantages - mean) / (std + eps)


class PolicyLossInfo(NamedTuple):
    """Diagnostics of the clipped surrogate, each a scalar."""

    approx_kl: jax.Array  # E[(ratio - 1) - log ratio], an unbiased, non-negative KL(old||new) estimate
    clip_fraction: jax.Array  # share of samples whose ratio left [1 - clip, 1 + clip]


def ppo_policy_loss(
    log_probs: jax.Array,
    old_log_probs: jax.Array,
    advantages: jax.Array,
    clip_coef: float | jax.Array,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, PolicyLossInfo]:
    """Clipped surrogate loss ``E[max(-A * ratio, -A * clip(ratio, 1 - c, 1 + c))]``.

    Args:
      log_probs: ``[N]`` log pi_new(a|s).
      old_log_probs: ``[N]`` log pi_old(a|s) recorded while acting.
      advantages: ``[N]`` (already normalised if wanted).
      clip_coef: ``c``.
      mask: optional ``[N]`` weights in {0, 1}.

    Returns:
      ``(loss, PolicyLossInfo)``; the loss is to be minimised.
    """
    log_ratio = log_probs - old_log_probs
    ratio = jnp.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * jnp.clip(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    loss = masked_mean(jnp.maximum(unclipped, clipped), mask)
    info = PolicyLossInfo(
        approx_kl=masked_mean((ratio - 1.0) - log_ratio, mask),
        clip_fraction=masked_mean((jnp.abs(ratio - 1.0) > clip_coef).astype(ratio.dtype), mask),
    )
    return loss, info


def value_loss(
    values: jax.Array,
    old_values: jax.Array,
    returns: jax.Array,
    clip_coef: float | jax.Array | None = None,
    mask: jax.Array | None = None,
) -> jax.Array:
    """``0.5 * E[(v - R)^2]``; with ``clip_coef`` the pessimistic clipped variant.

    Clipped: ``0.5 * E[max((v - R)^2, (v_old + clip(v - v_old, -c, c) - R)^2)]``.
    All arrays ``[N]``.
    """
    squared_error = jnp.square(values - returns)
    if clip_coef is not None:
        clipped_values = old_values + jnp.clip(values - old_values, -clip_coef, clip_coef)
        squared_error = jnp.maximum(squared_error, jnp.square(clipped_values - returns))
    return 0.5 * masked_mean(squared_error, mask)


def explained_variance(
    predictions: jax.Array, targets: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """``1 - Var[targets - predictions] / Var[targets]``; NaN when the targets are constant."""
    target_mean = masked_mean(targets, mask)
    target_var = masked_mean(jnp.square(targets - target_mean), mask)
    residual = targets - predictions
    residual_var = masked_mean(jnp.square(residual - masked_mean(residual, mask)), mask)
    return jnp.where(target_var > 0, 1.0 - residual_var / jnp.where(target_var > 0, target_var, 1.0), jnp.nan)
