import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import discounted_returns, gae


def gae_numpy(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Straightforward backward loop over one env, the reference."""
    advantages = np.zeros_like(rewards)
    next_advantage = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        continues = 1.0 - max(terminated[t], truncated[t])
        next_advantage = delta + gamma * lam * continues * next_advantage
        advantages[t] = next_advantage
    return advantages, advantages + values


def random_rollout(rng, shape):
    rewards = rng.normal(size=shape).astype(np.float32)
    values = rng.normal(size=shape).astype(np.float32)
    next_values = rng.normal(size=shape).astype(np.float32)
    terminated = rng.random(shape) < 0.15
    truncated = (rng.random(shape) < 0.15) & ~terminated
    return rewards, values, next_values, terminated, truncated


def test_gae_matches_numpy_loop_batched():
    rng = np.random.default_rng(0)
    T, B = 37, 5
    rewards, values, next_values, terminated, truncated = random_rollout(rng, (T, B))
    assert terminated[:-1].any() and truncated[:-1].any()  # ends in the middle of the rollout
    advantages, returns = jax.jit(gae)(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    for b in range(B):
        ref_adv, ref_ret = gae_numpy(rewards[:, b], values[:, b], next_values[:, b],
                                     terminated[:, b].astype(np.float32), truncated[:, b].astype(np.float32),
                                     0.97, 0.9)
        np.testing.assert_allclose(advantages[:, b], ref_adv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(returns[:, b], ref_ret, rtol=1e-5, atol=1e-5)


def test_gae_hand_checked_values():
    # Step 0 continues, step 1 is truncated (bootstraps from next_v=10), step 2 terminates.
    rewards = jnp.array([1.0, 2.0, 3.0])
    values = jnp.array([0.5, 1.0, 1.5])
    next_values = jnp.array([1.0, 10.0, 99.0])
    terminated = jnp.array([False, False, True])
    truncated = jnp.array([False, True, False])
    gamma, lam = 0.5, 0.5
    advantages, returns = gae(rewards, values, next_values, terminated, truncated, gamma, lam)
    a2 = 3.0 - 1.5  # terminal: no bootstrap
    a1 = 2.0 + 0.5 * 10.0 - 1.0  # truncated: bootstrap, recursion cut
    a0 = (1.0 + 0.5 * 1.0 - 0.5) + 0.25 * a1
    np.testing.assert_allclose(advantages, [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(returns, [a0 + 0.5, a1 + 1.0, a2 + 1.5], rtol=1e-6)


def test_gae_one_dimensional_and_vmappable_over_gamma():
    rng = np.random.default_rng(1)
    rollout = random_rollout(rng, (20,))
    gammas = jnp.array([0.9, 0.99])
    adv, _ = jax.vmap(lambda g: gae(*rollout, g, 0.95))(gammas)
    for i, g in enumerate([0.9, 0.99]):
        ref, _ = gae_numpy(*[np.asarray(x, np.float32) for x in rollout], g, 0.95)
        np.testing.assert_allclose(adv[i], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_discounted_returns_equal_gae_with_lambda_one(gamma):
    rng = np.random.default_rng(2)
    rewards, values, next_values, terminated, truncated = random_rollout(rng, (30, 4))
    # In a real rollout the next value of a continuing step is the value of the next step.
    continuing = ~(terminated | truncated)
    next_values[:-1] = np.where(continuing[:-1], values[1:], next_values[:-1])
    _, gae_returns = gae(rewards, values, next_values, terminated, truncated, gamma, 1.0)
    returns = discounted_returns(rewards, next_values, terminated, truncated, gamma)
    np.testing.assert_allclose(returns, gae_returns, rtol=1e-5, atol=1e-4)


def test_discounted_returns_hand_checked():
    returns = discounted_returns(jnp.array([1.0, 1.0, 1.0]), jnp.array([0.0, 0.0, 4.0]),
                                 jnp.array([False, True, False]), jnp.array([False, False, False]), 0.5)
    # step 2 bootstraps from next_v=4 (end of rollout); step 1 terminates; step 0 = 1 + 0.5 * 1
    np.testing.assert_allclose(returns, [1.5, 1.0, 3.0])


@pytest.mark.parametrize("backend_branch", ["sequential", "associative"])
def test_reverse_linear_recurrence_matches_a_python_loop_on_either_branch(backend_branch, monkeypatch):
    """Both implementations (the CPU's sequential scan, the accelerators' associative scan) against
    x_t = b_t + d_t x_{t+1}; decays of exactly 0 (episode cuts) included."""
    from jaxrl.core import gae as gae_module

    if backend_branch == "associative":  # make the CPU take the accelerators' branch (jax.lax, restored after)
        monkeypatch.setattr(gae_module.lax, "platform_dependent",
                            lambda *args, cpu, default: default(*args))
    rng = np.random.default_rng(5)
    bias = rng.normal(size=(37, 3)).astype(np.float32)
    decay = (rng.uniform(size=(37, 3)) * (rng.uniform(size=(37, 3)) > 0.2)).astype(np.float32)
    expected, following = np.zeros_like(bias), np.zeros(3, np.float32)
    for t in reversed(range(37)):
        following = bias[t] + decay[t] * following
        expected[t] = following
    got = np.asarray(gae_module.reverse_linear_recurrence(jnp.asarray(bias), jnp.asarray(decay)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
