"""Running mean and variance (Chan et al.'s parallel update) for observation normalisation, and
reward normalisation by the running scale of each env's discounted return."""

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
    """Merge ``batch [N, *feature_shape]`` (rows with ``mask [N] == 0`` ignored; uint8 pixels as float)."""
    batch = batch if jnp.issubdtype(batch.dtype, jnp.floating) else batch.astype(jnp.float32)
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


@struct.dataclass
class RewardNorm:
    """What reward normalisation carries from one rollout to the next."""

    return_stats: RunningStats  # of every env's discounted return at every step (scalar feature)
    returns: jax.Array  # [B] each env's discounted return so far in its current episode


def init_reward_norm(num_envs: int) -> RewardNorm:
    return RewardNorm(return_stats=init_running_stats(()), returns=jnp.zeros((num_envs,), jnp.float32))


def normalize_rewards(
    norm: RewardNorm, rewards: jax.Array, episode_ends: jax.Array, mask: jax.Array, gamma: jax.Array,
    clip: float = 10.0, eps: float = 1e-8,
) -> tuple[jax.Array, RewardNorm]:
    """Rewards ``[T, B]`` divided by the running standard deviation of the discounted return
    ``G_t = gamma * G_{t-1} + r_t`` (reset to 0 after a step where ``episode_ends``), clipped to
    ``[-clip, clip]``: what gymnasium's ``NormalizeReward`` and SB3's ``VecNormalize`` do step by
    step, here one rollout at a time. Steps with ``mask == 0`` (a NEXT_STEP env's reset step)
    leave ``G`` and the statistics alone. The scale already includes this rollout's returns, so
    the first rollout is not divided by the initial unit variance."""

    if rewards.shape[1:] != norm.returns.shape:
        raise ValueError(f"reward normalisation keeps a return per env: {norm.returns.shape[0]} envs (num_envs), "
                         f"but rewards of {rewards.shape[1:]} envs")

    def step(returns, inputs):
        reward, ended, valid = inputs
        returns_now = jnp.where(valid, gamma * returns + reward, returns)
        return jnp.where(valid & ended, 0.0, returns_now), returns_now

    valid = mask > 0
    returns, returns_seen = jax.lax.scan(step, norm.returns, (rewards, episode_ends, valid))
    stats = update_running_stats(norm.return_stats, returns_seen.reshape(-1), valid.reshape(-1))
    scaled = jnp.clip(rewards / jnp.sqrt(stats.var + eps), -clip, clip)
    return scaled, RewardNorm(return_stats=stats, returns=returns)

