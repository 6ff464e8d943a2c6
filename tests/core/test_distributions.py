import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.core.distributions import Categorical, DiagGaussian, FactoredCategorical


def test_categorical_log_prob_entropy_closed_form():
    logits = jnp.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    p = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum(-1, keepdims=True)
    dist = Categorical(logits)
    np.testing.assert_allclose(dist.log_prob(jnp.array([1, 2])), np.log([p[0, 1], p[1, 2]]), rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(), -(p * np.log(p)).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(dist.entropy()[1], math.log(3), rtol=1e-6)
    np.testing.assert_array_equal(dist.mode(), [1, 0])


def test_categorical_log_prob_gradient_is_one_hot_minus_softmax():
    logits = jnp.array([[1.0, 2.0, 0.5], [0.3, -1.0, 0.0]])
    actions = jnp.array([2, 0])
    grad = jax.grad(lambda z: jnp.sum(Categorical(z).log_prob(actions)))(logits)
    p = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum(-1, keepdims=True)
    np.testing.assert_allclose(grad, np.eye(3)[[2, 0]] - p, rtol=1e-6, atol=1e-7)


def test_categorical_log_prob_of_an_action_out_of_range_is_nan():
    log_probs = Categorical(jnp.zeros((2, 3))).log_prob(jnp.array([3, -1]))
    assert np.isnan(np.asarray(log_probs)).all()


def test_categorical_sample_frequencies():
    dist = Categorical(jnp.log(jnp.array([0.2, 0.8])))
    samples = jax.vmap(dist.sample)(
        jax.random.split(jax.random.PRNGKey(0), 20000))
    assert abs(float(np.mean(samples)) - 0.8) < 0.02


def test_factored_categorical_adds_its_components_log_probs_and_entropies():
    logits = np.array([[1.0, 2.0, 0.5, -1.0, 0.3], [0.0, 0.0, 0.0, 2.0, -2.0]], np.float32)  # components of 3 and 2
    dist = FactoredCategorical(jnp.asarray(logits), (3, 2))
    actions = np.array([[1, 0], [2, 1]])

    def log_softmax(z):
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    first, second = log_softmax(logits[:, :3]), log_softmax(logits[:, 3:])
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(actions)),
                               first[[0, 1], actions[:, 0]] + second[[0, 1], actions[:, 1]], rtol=1e-6)
    entropy = -(np.exp(first) * first).sum(-1) - (np.exp(second) * second).sum(-1)
    np.testing.assert_allclose(dist.entropy(), entropy, rtol=1e-6)
    np.testing.assert_array_equal(dist.mode(), [[1, 1], [0, 0]])
    np.testing.assert_array_equal(dist.sample_from_noise(jnp.zeros((2, 5))), dist.mode())
    noise = np.zeros((2, 5), np.float32)
    noise[0, 2] = noise[1, 4] = 100.0  # each draw picks from its own component's logits
    np.testing.assert_array_equal(dist.sample_from_noise(jnp.asarray(noise)), [[2, 1], [0, 1]])


def test_factored_categorical_samples_each_component_with_its_probabilities():
    dist = FactoredCategorical(jnp.log(jnp.array([0.2, 0.8, 0.5, 0.25, 0.25])), (2, 3))
    samples = np.asarray(jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(0), 20000)))
    assert samples.shape == (20000, 2)
    assert abs(np.mean(samples[:, 0]) - 0.8) < 0.02
    np.testing.assert_allclose(np.bincount(samples[:, 1], minlength=3) / 20000, [0.5, 0.25, 0.25], atol=0.02)


def test_gaussian_log_prob_entropy_closed_form():
    mean = jnp.array([[0.5, -1.0]])
    log_std = jnp.array([0.3, -0.7])
    action = jnp.array([[1.0, 0.0]])
    std = np.exp(np.asarray(log_std))
    ref = sum(-0.5 * ((a - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
              for a, m, s in zip([1.0, 0.0], [0.5, -1.0], std))
    dist = DiagGaussian(mean, log_std)
    np.testing.assert_allclose(dist.log_prob(action), [ref], rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(), [np.sum(np.log(std) + 0.5 * math.log(2 * math.pi * math.e))],
                               rtol=1e-6)
    np.testing.assert_array_equal(dist.mode(), mean)


def test_gaussian_samples_have_the_right_moments():
    dist = DiagGaussian(jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 2.0])))
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(1), 20000))
    np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(samples.std(0), [0.5, 2.0], rtol=0.03)
