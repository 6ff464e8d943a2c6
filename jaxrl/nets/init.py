"""Orthogonal initialisation without LAPACK.

flax's ``orthogonal`` takes the Q of a QR decomposition of a Gaussian matrix, with
column signs fixed so that ``diag(R) > 0``. That Q is unique, so any QR algorithm
gives it; here it comes from Gram-Schmidt with one re-orthogonalisation pass
(CGS2, stable in float32), written with matrix products.

Why: under ``jax.jit(jax.vmap(train))`` the LAPACK QR custom call is batched over
seeds, and on XLA:CPU two batched QRs running at once can each wait for the other's
thread-pool workers (a deadlock seen with jax 0.10 on a 2-core machine). Matrix
products never block, so a vmapped init is safe everywhere.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import jax
import jax.numpy as jnp
from flax.linen.initializers import Initializer

_DRAWS_MATERIALIZED = contextvars.ContextVar("jaxrl_orthogonal_draws_materialized", default=False)


@contextlib.contextmanager
def eager_values() -> Iterator[None]:
    """Initialisers traced inside give, jitted, the values they give run eagerly (op by op).

    The host loop initialised its agent eagerly until it jitted the init (a 2-core CPU: PPO
    CartPole 2.6 -> 1.3 s, SAC Pendulum 4.3 -> 2.0 s of compiling tiny programs). Eagerly, each
    layer's Gaussian draw is a program of its own, materialised before it is orthogonalised. In
    one program XLA fused a one-column kernel's draw into its norm, which rounded 23 of the 64
    values of PPO's value head one ulp apart and so changed every host run from there on. Inside
    this context the draw is kept apart (an optimization barrier), so host runs start from the
    parameters they always did; the device loop's programs, traced outside it, keep theirs.
    """
    token = _DRAWS_MATERIALIZED.set(True)
    try:
        yield
    finally:
        _DRAWS_MATERIALIZED.reset(token)


@jax.jit  # compiled once per shape: eager flax init calls it once per layer
def gram_schmidt_q(matrix: jax.Array) -> jax.Array:
    """``Q [m, n]`` (``m >= n``) with orthonormal columns and ``matrix = Q R``, ``diag(R) > 0``."""
    _, num_cols = matrix.shape
    columns = jnp.arange(num_cols)

    def orthonormalize_column(j, q):
        done = (columns < j).astype(matrix.dtype)  # the columns already orthonormal
        v = matrix[:, j]
        for _ in range(2):  # the second pass removes what rounding left of the first
            v = v - q @ (done * (q.T @ v))
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, num_cols, orthonormalize_column, jnp.zeros_like(matrix))


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Initializer:
    """Drop-in for ``flax.linen.initializers.orthogonal`` (same distribution and, up to
    rounding, the same values for the same key)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initialisation needs an array of rank >= 2, got shape {shape}")
        num_cols = shape[column_axis]
        num_rows = 1
        for size in shape:
            num_rows *= size
        num_rows //= num_cols
        tall_shape = (num_cols, num_rows) if num_rows < num_cols else (num_rows, num_cols)
        draw = jax.random.normal(key, tall_shape, jnp.float32)
        q = gram_schmidt_q(jax.lax.optimization_barrier(draw) if _DRAWS_MATERIALIZED.get() else draw)
        if num_rows < num_cols:
            q = q.T
        q = jnp.reshape(q, (*[s for i, s in enumerate(shape) if i != column_axis % len(shape)], num_cols))
        q = jnp.moveaxis(q, -1, column_axis)
        return (scale * q).astype(dtype)

    return init
