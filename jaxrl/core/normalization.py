"""Running mean and variance (Chan et al.'s parallel update) for observation normalisation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    """Mean and (population) variance of every feature seen so far, and the count."""

    mean: jax.Array  # [*feature_shape]
    var: jax.Array  # [*feature_shape]
    count: jax.Array  # scalar float; starts at a tiny epsilon so the first update is exact


def init_running_stats(feature_shape: tuple[int, ...]) -> RunningStats:
    """Zero mean, unit variance, near-zero count."""
    return RunningStats(
        mean=jnp.zeros(feature_shape, jnp.float32),
        var=jnp.ones(feature_shape, jnp.float32),
        count=jnp.asarray(1e-4, jnp.float32),
    )


def update_running_stats(
    stats: RunningStats, batch: jax.Array, mask: jax.Array | None = None
) -> RunningStats:
    """Merge ``batch [N, *feature_shape]`` (rows with ``mask [N] == 0`` ignored)."""
    weights = jnp.ones(batch.shape[0], batch.dtype) if mask is None else mask.astype(batch.dtype)
    weights = weights.reshape((-1,) + (1,) * (batch.ndim - 1))
    batch_count = jnp.sum(weights[:, ...].reshape(-1))
    safe_count = jnp.maximum(batch_count, 1.0)
    batch_mean = jnp.sum(batch * weights, axis=0) / safe_count
    batch_var = jnp.sum(jnp.square(batch - batch_mean) * weights, axis=0) / safe_count
    total = stats.count + batch_count
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * batch_count / total
    m2 = stats.var * stats.count + batch_var * batch_count + jnp.square(delta) * stats.count * batch_count / total
    return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize(stats: RunningStats, x: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
    """``clip((x - mean) / sqrt(var + eps), -clip, clip)``, broadcasting over leading axes."""
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + eps), -clip, clip)
