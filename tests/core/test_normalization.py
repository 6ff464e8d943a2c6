import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core.normalization import (
    init_reward_norm,
    init_running_stats,
    normalize,
    normalize_rewards,
    update_running_stats,
)


def test_running_stats_match_numpy_over_batches_and_mask():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(300, 4)).astype(np.float32)
    stats = init_running_stats((4,))
    for chunk in np.split(data, 3):
        stats = update_running_stats(stats, jnp.asarray(chunk))
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-3)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-3)
    masked = update_running_stats(stats, jnp.full((5, 4), 1e6), jnp.zeros(5))
    np.testing.assert_allclose(masked.mean, stats.mean, rtol=1e-6)
    z = normalize(stats, jnp.asarray(data))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-2)


def reference_reward_normalization(rewards, ends, mask, gamma, rollouts_before=()):
    """Step by step in NumPy: each env's discounted return, the population variance of every
    return seen so far (the initial statistics count ~nothing), rewards over its square root."""
    returns = np.zeros(rewards.shape[1])
    seen = []
    for r, e, m in [*rollouts_before, (rewards, ends, mask)]:
        for t in range(r.shape[0]):
            for b in range(r.shape[1]):
                if m[t, b]:
                    returns[b] = gamma * returns[b] + r[t, b]
                    seen.append(returns[b])
                    if e[t, b]:
                        returns[b] = 0.0
    return np.clip(rewards / np.sqrt(np.var(seen) + 1e-8), -10, 10), returns


def test_reward_normalization_divides_by_the_running_scale_of_each_envs_discounted_return():
    rng = np.random.default_rng(1)
    T, B, gamma = 12, 3, 0.9
    rollouts = []
    for _ in range(2):
        rewards = rng.normal(2.0, 3.0, (T, B)).astype(np.float32)
        ends = rng.random((T, B)) < 0.2
        mask = rng.random((T, B)) > 0.1
        rollouts.append((rewards, ends, mask))
    norm = init_reward_norm(B)
    for rewards, ends, mask in rollouts:
        scaled, norm = normalize_rewards(norm, jnp.asarray(rewards), jnp.asarray(ends), jnp.asarray(mask, jnp.float32),
                                         jnp.float32(gamma))
    expected, returns = reference_reward_normalization(*rollouts[1], gamma, rollouts_before=rollouts[:1])
    np.testing.assert_allclose(scaled, expected, rtol=2e-4)
    np.testing.assert_allclose(norm.returns, returns, rtol=1e-5, atol=1e-5)  # carried into the next rollout
    np.testing.assert_allclose(norm.return_stats.count, np.sum([m.sum() for _, _, m in rollouts]), rtol=1e-5)


def test_reward_normalization_clips_at_ten_scales():
    def normalized(norm, rewards):  # gamma 0: each return is its reward
        rewards = jnp.asarray(rewards, jnp.float32)
        return normalize_rewards(norm, rewards, jnp.zeros(rewards.shape, bool), jnp.ones(rewards.shape), jnp.float32(0))

    ordinary, norm = normalized(init_reward_norm(2), np.tile([[1.0], [-1.0]], (200, 2)))  # std 1
    np.testing.assert_allclose(ordinary[:2, 0], [1.0, -1.0], rtol=1e-4)
    outlier, _ = normalized(norm, [[1e4, 1.0]])  # std ~500 with it, so 1e4 is ~20 scales: clipped
    assert float(outlier[0, 0]) == 10.0
    with pytest.raises(ValueError, match=r"keeps a return per env: 2 envs \(num_envs\), but rewards of \(3,\) envs"):
        normalized(norm, np.ones((4, 3)))

