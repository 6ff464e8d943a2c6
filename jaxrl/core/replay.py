"""A circular replay buffer that lives on the device: pure ``init`` / ``add`` / ``sample``.

The buffer is built from an example batch of transitions (any pytree whose leaves have
``[N, ...]`` shapes and dtypes: arrays or ``jax.ShapeDtypeStruct``), so discrete or
continuous actions and any ``extras`` an agent stores need no new code. Memory is exactly
``capacity x item_bytes(example)`` plus two int32 counters.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.core.nstep import NStepWindow, nstep_item, nstep_push, nstep_window_init


@struct.dataclass
class ReplayBuffer:
    data: Any  # the example's pytree (usually a Transition), every leaf [capacity, ...]
    position: jax.Array  # int32: slot the next item goes to
    size: jax.Array  # int32: filled slots, at most capacity
    window: NStepWindow | None = None  # n-step returns: each env's unfinished steps (None: 1-step items)

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[0]


def item_bytes(example: Any) -> int:
    """Bytes one stored item of ``example`` (leaves ``[N, ...]``) takes."""
    return sum(math.prod(leaf.shape[1:]) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(example))


def replay_item(example: Any, n_step: int = 1) -> Any:
    """What one stored item looks like for adds like ``example``: the example itself, or for
    ``n_step > 1`` (a :class:`~jaxrl.types.Transition`) the n-step item of :mod:`jaxrl.core.nstep`."""
    return example if n_step == 1 else nstep_item(example, n_step)


def replay_init(capacity: int, example: Any, n_step: int = 1) -> ReplayBuffer:
    """An empty buffer of ``capacity`` items for adds shaped like ``example`` (leaves ``[N, ...]``).
    With ``n_step > 1`` (``example`` a Transition of the ``N`` envs, in the same order every add)
    it stores n-step items and keeps each env's unfinished steps in ``window``."""
    if capacity < 1:
        raise ValueError(f"buffer_size must be >= 1, got {capacity}")
    if n_step < 1:
        raise ValueError(f"n_step must be >= 1, got {n_step}")
    item = replay_item(example, n_step)
    data = jax.tree.map(lambda leaf: jnp.zeros((capacity, *leaf.shape[1:]), leaf.dtype), item)
    window = nstep_window_init(example, n_step) if n_step > 1 else None
    return ReplayBuffer(data=data, position=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32), window=window)


def replay_add(buffer: ReplayBuffer, batch: Any, mask: jax.Array | None = None) -> ReplayBuffer:
    """Write ``batch`` (leaves ``[N, ...]``, N <= capacity) at the next slots, wrapping around.

    Rows with ``mask [N] == False`` are skipped (not written, not counted), so the
    batch keeps a fixed shape under jit when some envs have nothing to add. An n-step buffer
    takes one step of its envs per add and stores the n-step items that step completes.
    """
    window = buffer.window
    if window is not None:
        valid = jnp.ones(batch.rewards.shape, bool) if mask is None else jnp.asarray(mask, bool)
        window, items, emit = nstep_push(window, batch, valid)
        batch = jax.tree.map(lambda leaf: leaf.reshape((-1, *leaf.shape[2:])), items)
        mask = emit.reshape(-1)
    capacity = buffer.capacity
    rows = jax.tree.leaves(batch)[0].shape[0]
    keep = jnp.ones(rows, bool) if mask is None else jnp.asarray(mask, bool)
    count = jnp.sum(keep, dtype=jnp.int32)
    offsets = jnp.cumsum(keep, dtype=jnp.int32) - 1
    # Skipped rows point past the end and are dropped by the scatter.
    slots = jnp.where(keep, (buffer.position + offsets) % capacity, capacity)
    data = jax.tree.map(
        lambda store, new: store.at[slots].set(jnp.asarray(new).astype(store.dtype), mode="drop"), buffer.data, batch
    )
    return ReplayBuffer(
        data=data,
        position=(buffer.position + count) % capacity,
        size=jnp.minimum(buffer.size + count, capacity),
        window=window,
    )


def replay_sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Any:
    """``batch_size`` items drawn uniformly (with replacement) from the filled slots only."""
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda store: store[indices], buffer.data)


def replay_sample_batches(buffer: ReplayBuffer, keys: jax.Array, batch_size: int) -> Any:
    """One :func:`replay_sample` per key of ``keys [U]``: leaves ``[U, batch_size, ...]``.

    Gradient steps should scan over these batches rather than sample inside the scan: a buffer
    read inside ``lax.scan`` is an operand of XLA's while loop, which then copies the whole
    buffer (measured: +18 MB of temporaries and two copies of leaves of a 1M-item SAC buffer).
    """
    return jax.vmap(lambda key: replay_sample(buffer, key, batch_size))(keys)
