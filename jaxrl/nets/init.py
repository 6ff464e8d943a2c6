"""Orthogonal initialisation without LAPACK, drawn for a whole network at once.

flax's ``orthogonal`` takes the Q of a QR decomposition of a Gaussian matrix, with
column signs fixed so that ``diag(R) > 0``. That Q is unique, so any QR algorithm
gives it; here it comes from Gram-Schmidt with one re-orthogonalisation pass
(CGS2, stable in float32), written with matrix products.

Why no LAPACK: under ``jax.jit(jax.vmap(train))`` the LAPACK QR custom call is batched over
seeds, and on XLA:CPU two batched QRs running at once can each wait for the other's
thread-pool workers (a deadlock seen with jax 0.10 on a 2-core machine). Matrix
products never block, so a vmapped init is safe everywhere.

Why at once (:func:`init_in_one_batch`): drawn layer by layer, every kernel costs a random
key (flax folds the layer's path into the init key), a Gaussian draw and a Gram-Schmidt loop,
and on a CPU each is a loop of its own that XLA compiles: PPO's six layers took 2.4 s of
compiling, 40% of the whole training program's. One draw for all kernels and one loop per
group of similar shapes give each layer the same distribution for a fraction of that.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.linen.initializers import Initializer

_DRAWS_MATERIALIZED = contextvars.ContextVar("jaxrl_orthogonal_draws_materialized", default=False)
# None: each kernel draws its own; a list: record the kernels' tall shapes (no values);
# an iterator: hand out the kernels computed together, in the order they were recorded.
_BATCH = contextvars.ContextVar("jaxrl_orthogonal_batch", default=None)
# Set inside an ``nn.vmap`` ensemble: its axis name and size (each member takes its own kernel).
_MEMBERS = contextvars.ContextVar("jaxrl_orthogonal_members", default=None)
# Groups padded to their largest kernel may do up to this much more Gram-Schmidt work than
# the kernels alone, plus this many flops, before a kernel starts a group (a loop) of its own.
PADDING_WORK_FACTOR = 2.0
PADDING_WORK_SLACK = 2**21
_RETRACE_DIFFERS = "init_fn initialised a different set of orthogonal kernels on its second trace"


@contextlib.contextmanager
def _setting(var: contextvars.ContextVar, value: Any) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def lifted_members(axis_name: str, size: int) -> contextlib.AbstractContextManager[None]:
    """For a module that lifts its layers through ``nn.vmap(..., axis_size=size, axis_name=axis_name)``
    (an ensemble) and calls them inside this: under :func:`init_in_one_batch` each of the ``size``
    members takes its own kernel from the batch (picked by ``lax.axis_index``). Without it every
    member would get the one value handed to the lifted layer."""
    return _setting(_MEMBERS, (axis_name, size))


def eager_values() -> contextlib.AbstractContextManager[None]:
    """Initialisers traced inside give, jitted, the values they give run eagerly (op by op).

    The host loop initialised its agent eagerly until it jitted the init (a 2-core CPU: PPO
    CartPole 2.6 -> 1.3 s, SAC Pendulum 4.3 -> 2.0 s of compiling tiny programs). Eagerly, each
    Gaussian draw is a program of its own, materialised before it is orthogonalised. In one
    program XLA fused a one-column kernel's draw into its norm, which rounded 23 of the 64
    values of PPO's value head one ulp apart. Inside this context the draw is kept apart (an
    optimization barrier), so a jitted init gives what an eager one does; the device loop's
    programs, traced outside it, keep theirs.
    """
    return _setting(_DRAWS_MATERIALIZED, True)


def _materialized(draw: jax.Array) -> jax.Array:
    return jax.lax.optimization_barrier(draw) if _DRAWS_MATERIALIZED.get() else draw


@jax.jit  # compiled once per shape: eager flax init calls it once per layer
def gram_schmidt_q(matrix: jax.Array) -> jax.Array:
    """``Q [m, n]`` (``m >= n``) with orthonormal columns and ``matrix = Q R``, ``diag(R) > 0``.
    An all-zero column (padding) gives a zero column of ``Q``."""
    _, num_cols = matrix.shape
    columns = jnp.arange(num_cols)

    def orthonormalize_column(j, q):
        done = (columns < j).astype(matrix.dtype)  # the columns already orthonormal
        v = matrix[:, j]
        for _ in range(2):  # the second pass removes what rounding left of the first
            v = v - q @ (done * (q.T @ v))
        return q.at[:, j].set(v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(matrix.dtype).tiny))

    return jax.lax.fori_loop(0, num_cols, orthonormalize_column, jnp.zeros_like(matrix))


def padding_groups(shapes: list[tuple[int, int]]) -> list[list[int]]:
    """Indices of ``shapes`` (tall ``(rows, cols)``) grouped for one batched Gram-Schmidt each:
    by columns then rows, a kernel joins the group before it while the group padded to its
    largest kernel stays within ``PADDING_WORK_FACTOR`` x its kernels' work plus ``PADDING_WORK_SLACK``."""

    def work(rows: int, cols: int) -> int:
        return rows * cols * cols

    groups: list[list[int]] = []
    for index in sorted(range(len(shapes)), key=lambda i: (shapes[i][1], shapes[i][0])):
        if groups:
            members = [*groups[-1], index]
            rows, cols = max(shapes[i][0] for i in members), max(shapes[i][1] for i in members)
            actual = sum(work(*shapes[i]) for i in members)
            if len(members) * work(rows, cols) <= PADDING_WORK_FACTOR * actual + PADDING_WORK_SLACK:
                groups[-1] = members
                continue
        groups.append([index])
    return groups


def orthonormal_batch(key: jax.Array, shapes: list[tuple[int, int]]) -> list[jax.Array]:
    """For each tall ``(rows, cols)`` of ``shapes``, the orthonormal ``Q`` of an independent
    Gaussian matrix: one draw for all, one Gram-Schmidt loop per :func:`padding_groups` group
    (zero padding leaves each kernel's ``Q`` as it would be alone, up to rounding)."""
    sizes = [rows * cols for rows, cols in shapes]
    flat = _materialized(jax.random.normal(key, (sum(sizes),), jnp.float32))
    offsets = [0, *itertools.accumulate(sizes)]
    matrices: list[jax.Array | None] = [None] * len(shapes)
    for group in padding_groups(shapes):
        rows, cols = max(shapes[i][0] for i in group), max(shapes[i][1] for i in group)
        # Each kernel's draw (its slice of ``flat``, row-major) zero-padded to ``[rows, cols]``, taken
        # by one gather: a stack of padded slices made XLA:CPU emit the normal's inverse erf once per
        # kernel in one fused loop, the heaviest LLVM module of PPO's program (0.2-0.35 s).
        index = np.full((len(group), rows, cols), len(flat), np.int32)  # past the end: a zero
        for member, i in enumerate(group):
            index[member, :shapes[i][0], :shapes[i][1]] = np.arange(offsets[i], offsets[i + 1]).reshape(shapes[i])
        padded = flat.at[index].get(mode="fill", fill_value=0.0)
        qs = jax.vmap(gram_schmidt_q)(padded)
        for member, i in enumerate(group):
            matrices[i] = qs[member, :shapes[i][0], :shapes[i][1]]
    return matrices


def _tall_shape(shape: tuple[int, ...], column_axis: int) -> tuple[int, int]:
    """``(rows, cols)`` with ``rows >= cols`` of the matrix whose ``Q`` gives a kernel of ``shape``."""
    num_cols = shape[column_axis]
    num_rows = math.prod(shape) // num_cols
    return (num_cols, num_rows) if num_rows < num_cols else (num_rows, num_cols)


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Initializer:
    """Drop-in for ``flax.linen.initializers.orthogonal``: the same distribution and, drawn on its
    own, up to rounding the same values for the same key. Under :func:`init_in_one_batch` the
    kernel comes from the network's one draw instead (the key is not read)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initialisation needs an array of rank >= 2, got shape {shape}")
        tall_shape = _tall_shape(shape, column_axis)
        batch, members = _BATCH.get(), _MEMBERS.get()
        count = members[1] if members else 1  # kernels this call stands for
        if batch is None:
            q = gram_schmidt_q(_materialized(jax.random.normal(key, tall_shape, jnp.float32)))
        elif isinstance(batch, list):  # recording: shapes only
            batch.extend([tall_shape] * count)
            q = jnp.zeros(tall_shape, jnp.float32)
        else:
            qs = [next(batch, None) for _ in range(count)]
            if any(q is None or q.shape != tall_shape for q in qs):
                raise RuntimeError(_RETRACE_DIFFERS)
            q = jnp.stack(qs)[jax.lax.axis_index(members[0])] if members else qs[0]
        if tall_shape[1] != shape[column_axis]:  # a wide kernel, drawn transposed
            q = q.T
        q = jnp.reshape(q, (*[s for i, s in enumerate(shape) if i != column_axis % len(shape)], shape[column_axis]))
        q = jnp.moveaxis(q, -1, column_axis)
        return (scale * q).astype(dtype)

    return init


def init_in_one_batch(init_fn: Callable[..., Any], key: jax.Array, *args: Any) -> Any:
    """``init_fn(key, *args)`` (e.g. a flax ``Module.init``) with every :func:`orthogonal` kernel
    in it taken from one Gaussian draw and orthonormalised in a few batched loops
    (:func:`orthonormal_batch`); other initialisers draw as usual. Each kernel keeps its own
    independent Haar-distributed ``Q``, so the network's distribution is unchanged.

    ``init_fn`` is traced twice: abstractly to learn the kernels' shapes, then for real with
    ``key``'s second half (the first draws the kernels). Kernels under a flax transform that
    lifts them (``nn.vmap``) must be built inside :func:`lifted_members`."""
    shapes: list[tuple[int, int]] = []
    with _setting(_BATCH, shapes):
        jax.eval_shape(init_fn, key, *args)
    if not shapes:
        return init_fn(key, *args)
    draw_key, init_key = jax.random.split(key)
    supply = iter(orthonormal_batch(draw_key, shapes))
    with _setting(_BATCH, supply):
        result = init_fn(init_key, *args)
    if next(supply, None) is not None:  # init_fn drew fewer kernels than it did when traced
        raise RuntimeError(_RETRACE_DIFFERS)
    return result
