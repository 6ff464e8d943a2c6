"""A circular replay buffer that lives on the device: pure ``init`` / ``add`` / ``sample``.

Memory is exactly ``capacity x item size``, with item size
``4 * (2 * prod(obs_shape) + action_dim + 2)`` bytes (float32 observation, next
observation, action, reward and terminated flag), plus two int32 counters.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.types import Transition


@struct.dataclass
class ReplayBuffer:
    data: Transition  # every field [capacity, ...]
    position: jax.Array  # int32: slot the next item goes to
    size: jax.Array  # int32: filled slots, at most capacity

    @property
    def capacity(self) -> int:
        return self.data.rewards.shape[0]


def item_bytes(obs_shape: tuple[int, ...], action_dim: int) -> int:
    """Bytes one stored transition takes."""
    return 4 * (2 * math.prod(obs_shape) + action_dim + 2)


def replay_init(capacity: int, obs_shape: tuple[int, ...], action_dim: int) -> ReplayBuffer:
    """An empty buffer of ``capacity`` float32 transitions."""
    if capacity < 1:
        raise ValueError(f"buffer_size must be >= 1, got {capacity}")
    data = Transition(
        obs=jnp.zeros((capacity, *obs_shape), jnp.float32),
        actions=jnp.zeros((capacity, action_dim), jnp.float32),
        rewards=jnp.zeros((capacity,), jnp.float32),
        next_obs=jnp.zeros((capacity, *obs_shape), jnp.float32),
        terminated=jnp.zeros((capacity,), jnp.float32),
    )
    return ReplayBuffer(data=data, position=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def replay_add(buffer: ReplayBuffer, batch: Transition, mask: jax.Array | None = None) -> ReplayBuffer:
    """Write ``batch`` (``[N, ...]``, N <= capacity) at the next slots, wrapping around.

    Rows with ``mask [N] == False`` are skipped (not written, not counted), so the
    batch keeps a fixed shape under jit when some envs have nothing to add.
    """
    capacity = buffer.capacity
    keep = jnp.ones(batch.rewards.shape[0], bool) if mask is None else jnp.asarray(mask, bool)
    count = jnp.sum(keep, dtype=jnp.int32)
    offsets = jnp.cumsum(keep, dtype=jnp.int32) - 1
    # Skipped rows point past the end and are dropped by the scatter.
    slots = jnp.where(keep, (buffer.position + offsets) % capacity, capacity)
    data = jax.tree.map(
        lambda store, new: store.at[slots].set(new.astype(store.dtype), mode="drop"), buffer.data, batch
    )
    return ReplayBuffer(
        data=data,
        position=(buffer.position + count) % capacity,
        size=jnp.minimum(buffer.size + count, capacity),
    )


def replay_sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """``batch_size`` transitions drawn uniformly (with replacement) from the filled slots only."""
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda store: store[indices], buffer.data)
