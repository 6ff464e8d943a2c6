"""Q(lambda) returns against a plain NumPy loop and hand-checked values."""

import jax
import numpy as np
import pytest

from jaxrl.core.qlambda import q_lambda_returns


def reference(rewards, next_max_q, terminated, truncated, gamma, lam):
    T = len(rewards)
    returns = np.zeros_like(rewards)
    for b in range(rewards.shape[1]):
        following = 0.0
        for t in reversed(range(T)):
            q = next_max_q[t, b]
            cut = terminated[t, b] or truncated[t, b] or t == T - 1
            bracket = q if cut else (1 - lam) * q + lam * following
            returns[t, b] = rewards[t, b] + gamma * (0.0 if terminated[t, b] else 1.0) * bracket
            following = returns[t, b]
    return returns


@pytest.mark.parametrize("lam", [0.0, 0.65, 1.0])
def test_matches_a_numpy_loop(lam):
    rng = np.random.default_rng(0)
    T, B = 12, 5
    rewards = rng.normal(size=(T, B)).astype(np.float32)
    next_max_q = rng.normal(size=(T, B)).astype(np.float32)
    terminated = rng.random((T, B)) < 0.15
    truncated = (rng.random((T, B)) < 0.1) & ~terminated
    got = jax.jit(q_lambda_returns)(rewards, next_max_q, terminated, truncated, 0.9, lam)
    np.testing.assert_allclose(got, reference(rewards, next_max_q, terminated, truncated, 0.9, lam), rtol=1e-5,
                               atol=1e-5)


def test_hand_checked_values():
    # One env, 3 steps, gamma 0.5, lambda 0.5; the episode is truncated after step 1 and step 2 starts anew.
    rewards = np.array([[1.0], [2.0], [3.0]], np.float32)
    next_max_q = np.array([[4.0], [8.0], [16.0]], np.float32)
    terminated = np.zeros((3, 1), bool)
    truncated = np.array([[False], [True], [False]])
    got = np.asarray(q_lambda_returns(rewards, next_max_q, terminated, truncated, 0.5, 0.5))[:, 0]
    g2 = 3.0 + 0.5 * 16.0  # last step: bootstrap only = 11
    g1 = 2.0 + 0.5 * 8.0  # truncated: bootstraps from its final observation, not from step 2 = 6
    g0 = 1.0 + 0.5 * (0.5 * 4.0 + 0.5 * g1)  # = 1 + 0.5 * (2 + 3) = 3.5
    np.testing.assert_allclose(got, [g0, g1, g2])
    # Terminated instead: no bootstrap at all from step 1.
    got = np.asarray(q_lambda_returns(rewards, next_max_q, truncated, terminated, 0.5, 0.5))[:, 0]
    np.testing.assert_allclose(got, [1.0 + 0.5 * (2.0 + 0.5 * 2.0), 2.0, 11.0])


def test_lambda_zero_is_the_one_step_target():
    rng = np.random.default_rng(1)
    rewards, q = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    terminated = rng.random((6, 3)) < 0.3
    got = q_lambda_returns(rewards, q, terminated, np.zeros((6, 3), bool), 0.99, 0.0)
    np.testing.assert_allclose(got, rewards + 0.99 * (1 - terminated) * q, rtol=1e-6)
