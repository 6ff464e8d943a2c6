"""The matrix product of a dense layer, with a weight gradient XLA:CPU computes as a plain product.

A dense layer ``y [..., out] = x [..., in] @ kernel [in, out]`` has the weight gradient
``x^T g``: a product that contracts both operands over their leading (batch) axis. XLA:CPU runs
that transposed-operand form 1.6x slower than a plain product of the same size (2-core Xeon, 2048
x 64 by 2048 x 64: 0.255 ms against 0.16 ms), and a network's gradient has one per layer. Here the
backward pass materialises ``x^T`` first (an optimisation barrier keeps XLA from folding the
transpose back into the product), so the weight gradient is a plain product: PPO's actor-critic
gradient on 2048 samples took 1.18 ms instead of 1.49 ms. Values are the same up to float rounding
(the sum runs in another order). Other backends, and products that are not a dense layer's, use
``lax.dot_general`` unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

# Widest layer input that takes the plain-product gradient. Wider inputs (a conv torso's 1,600
# features into PQN's MinAtar MLP, the conv's own 3x3 patches) ran as fast or faster untransposed.
MAX_IN_FEATURES = 128


def dense_dot_general(lhs: jax.Array, rhs: jax.Array, dimension_numbers: Any, precision: Any = None,
                      preferred_element_type: Any = None) -> jax.Array:
    """Drop-in for ``lax.dot_general`` as ``flax.linen.Dense(dot_general=...)`` calls it:
    ``lhs [..., in]`` times ``rhs [in, out]`` -> ``[..., out]``."""
    is_dense = (rhs.ndim == 2 and rhs.shape[0] <= MAX_IN_FEATURES and preferred_element_type is None
                and tuple(map(tuple, dimension_numbers[0])) == ((lhs.ndim - 1,), (0,))
                and not any(dimension_numbers[1][0]) and not any(dimension_numbers[1][1]))
    if not is_dense or jax.default_backend() != "cpu":
        return jax.lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                                   preferred_element_type=preferred_element_type)
    return _dense_product(lhs, rhs, precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _dense_product(x: jax.Array, kernel: jax.Array, precision: Any) -> jax.Array:
    return jax.lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())), precision=precision)


def _dense_product_forward(x: jax.Array, kernel: jax.Array, precision: Any):
    return _dense_product(x, kernel, precision), (x, kernel)


def _dense_product_backward(precision: Any, residuals: tuple[jax.Array, jax.Array], grad_out: jax.Array):
    x, kernel = residuals
    flat_x = x.reshape(-1, x.shape[-1])  # [N, in]
    flat_grad = grad_out.reshape(-1, grad_out.shape[-1])  # [N, out]
    x_transposed = jax.lax.optimization_barrier(flat_x.T)  # [in, N], laid out so the product is plain
    grad_kernel = jax.lax.dot(x_transposed, flat_grad, precision=precision)  # [in, out]
    grad_x = jax.lax.dot_general(grad_out, kernel, (((grad_out.ndim - 1,), (1,)), ((), ())), precision=precision)
    return grad_x.astype(x.dtype), grad_kernel.astype(kernel.dtype)


_dense_product.defvjp(_dense_product_forward, _dense_product_backward)
