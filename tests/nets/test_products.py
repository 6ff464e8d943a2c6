"""The dense layers' product: same values and gradients as ``lax.dot_general``, with the weight
gradient taken from a materialised transpose on a CPU."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.nets.products import MAX_IN_FEATURES, dense_dot_general

DENSE = lambda x: (((x.ndim - 1,), (0,)), ((), ()))  # noqa: E731  (how flax's Dense contracts)


def loss(dot_general, x, kernel):
    return jnp.sum(jnp.tanh(dot_general(x, kernel, DENSE(x))) ** 2)


@pytest.mark.parametrize("x_shape", [(32, 5), (7, 3, 5)])
def test_values_and_gradients_equal_lax_dot_general(x_shape):
    x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
    kernel = jax.random.normal(jax.random.PRNGKey(1), (5, 4))
    np.testing.assert_array_equal(dense_dot_general(x, kernel, DENSE(x)), jax.lax.dot_general(x, kernel, DENSE(x)))
    ours = jax.jit(jax.grad(lambda x, k: loss(dense_dot_general, x, k), argnums=(0, 1)))(x, kernel)
    reference = jax.grad(lambda x, k: loss(jax.lax.dot_general, x, k), argnums=(0, 1))(x, kernel)
    for got, want in zip(ours, reference, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # the sum runs in another order
    # the weight gradient by hand: sum over every leading axis of x^T g
    grad_out = jax.grad(lambda y: jnp.sum(jnp.tanh(y) ** 2))(x @ kernel)
    by_hand = np.asarray(x).reshape(-1, 5).T @ np.asarray(grad_out).reshape(-1, 4)
    np.testing.assert_allclose(ours[1], by_hand, rtol=1e-5, atol=1e-5)


def test_vmapped_over_seeds_equals_one_seed_at_a_time():
    xs = jax.random.normal(jax.random.PRNGKey(0), (3, 16, 6))
    kernels = jax.random.normal(jax.random.PRNGKey(1), (3, 6, 2))
    grad = jax.grad(lambda x, k: loss(dense_dot_general, x, k), argnums=1)
    batched = jax.jit(jax.vmap(grad))(xs, kernels)
    for seed in range(3):
        np.testing.assert_allclose(batched[seed], grad(xs[seed], kernels[seed]), rtol=1e-5, atol=1e-6)


def test_the_cpu_weight_gradient_multiplies_a_materialised_transpose_and_wide_inputs_keep_xlas():
    def gradient_jaxpr(in_features):
        x, kernel = jnp.ones((8, in_features)), jnp.ones((in_features, 3))
        return str(jax.make_jaxpr(jax.grad(lambda k: loss(dense_dot_general, x, k)))(kernel))

    assert ("optimization_barrier" in gradient_jaxpr(MAX_IN_FEATURES)) == (jax.default_backend() == "cpu")
    assert "optimization_barrier" not in gradient_jaxpr(MAX_IN_FEATURES + 1)


def test_a_flax_dense_with_it_keeps_its_parameters_and_outputs():
    plain, ours = nn.Dense(3), nn.Dense(3, dot_general=dense_dot_general)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 5))
    params = plain.init(jax.random.PRNGKey(1), x)
    assert jax.tree.structure(ours.init(jax.random.PRNGKey(1), x)) == jax.tree.structure(params)
    np.testing.assert_array_equal(ours.apply(params, x), plain.apply(params, x))
