import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.core.distributions import TanhGaussian
from jaxrl.core.noise import ou_init, ou_reset, ou_stationary_std, ou_step
from jaxrl.core.td import from_box, soft_update, td_target, to_box


def run_ou(theta, sigma, dt, steps, start):
    state = jnp.full((2000, 1), start)

    def step(state, key):
        state = ou_step(state, jax.random.normal(key, state.shape), theta, sigma, dt)
        return state, state

    _, noise = jax.lax.scan(step, state, jax.random.split(jax.random.PRNGKey(0), steps))
    return np.asarray(noise)  # [steps, 2000, 1]


def test_ou_reverts_to_the_mean_at_the_expected_rate():
    noise = run_ou(theta=0.15, sigma=0.0, dt=1.0, steps=10, start=2.0)
    np.testing.assert_allclose(noise[:, 0, 0], 2.0 * 0.85 ** np.arange(1, 11), rtol=1e-5)


def test_ou_stationary_std():
    theta, sigma, dt = 0.15, 0.2, 1.0
    noise = run_ou(theta, sigma, dt, steps=300, start=0.0)
    empirical = noise[100:].std()
    exact = ou_stationary_std(theta, sigma, dt)
    np.testing.assert_allclose(empirical, exact, rtol=0.03)
    # and the first-order form sigma / sqrt(2 theta dt) for small theta * dt
    np.testing.assert_allclose(ou_stationary_std(0.01, sigma, 1.0), sigma / np.sqrt(2 * 0.01), rtol=0.01)
    assert abs(noise[100:].mean()) < 0.02


def test_ou_reset_only_where_an_episode_starts():
    state = jnp.ones((3, 2))
    np.testing.assert_array_equal(ou_reset(state, jnp.array([False, True, False])), [[1, 1], [0, 0], [1, 1]])
    assert ou_init(4, 2).shape == (4, 2)


def test_soft_update_arithmetic():
    target = {"w": jnp.array([0.0, 10.0])}
    online = {"w": jnp.array([1.0, 20.0])}
    np.testing.assert_allclose(soft_update(target, online, 0.1)["w"], [0.1, 11.0])
    np.testing.assert_allclose(soft_update(target, online, 1.0)["w"], [1.0, 20.0])


def test_td_target_uses_terminated_not_done():
    rewards, next_q = jnp.array([1.0, 1.0, 1.0]), jnp.array([5.0, 5.0, 5.0])
    # second row ended by a time limit (not terminated): it must still bootstrap
    targets = td_target(rewards, next_q, jnp.array([0.0, 0.0, 1.0]), 0.9)
    np.testing.assert_allclose(targets, [5.5, 5.5, 1.0])


def test_box_mapping_round_trips():
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 1.0])
    np.testing.assert_allclose(to_box(jnp.array([[-1.0, 1.0], [0.0, 0.0]]), low, high), [[-2, 1], [0, 0.5]])
    x = jnp.array([[1.5, 0.25]])
    np.testing.assert_allclose(to_box(from_box(x, low, high), low, high), x, rtol=1e-6)


def test_tanh_gaussian_log_prob_against_change_of_variables():
    mean, log_std = jnp.array([0.3, -1.2]), jnp.array([-0.5, 0.4])
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 1.0])
    dist = TanhGaussian(mean, log_std, low, high)
    noise = jnp.array([0.7, -1.9])
    actions, log_prob = dist.sample_from_noise(noise)
    u = np.asarray(mean + jnp.exp(log_std) * noise, np.float64)
    std = np.exp(np.asarray(log_std, np.float64))
    gaussian = np.sum(-0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi))

    def transform(v):
        return np.asarray(low) + (np.tanh(v) + 1) / 2 * (np.asarray(high) - np.asarray(low))

    h = 1e-6
    jacobian = (transform(u + h) - transform(u - h)) / (2 * h)  # diagonal, by finite differences
    np.testing.assert_allclose(log_prob, gaussian - np.sum(np.log(jacobian)), rtol=1e-4)
    np.testing.assert_allclose(actions, transform(u), atol=1e-6)


def test_tanh_gaussian_log_prob_integrates_to_one():
    dist = TanhGaussian(jnp.array([0.4]), jnp.array([-0.3]), jnp.array([-1.0]), jnp.array([3.0]))
    samples, log_prob = jax.vmap(lambda k: dist.sample(k))(jax.random.split(jax.random.PRNGKey(0), 200000))
    # Monte-Carlo: E_p[1 / p(a)] over the support equals its length (4).
    np.testing.assert_allclose(np.mean(np.exp(-np.asarray(log_prob, np.float64))), 4.0, rtol=0.05)
    assert samples.min() >= -1.0 and samples.max() <= 3.0
