"""Shuffled minibatches of a batch of samples, for the epoch loops of on-policy updates.

The shuffle is a keyed Feistel permutation, not ``jax.random.permutation``: the latter
sorts the batch by random keys (two or three rounds of a full sort), which on XLA:CPU
cost ~23 ms for 65,536 samples, i.e. ~45% of a whole PPO update of 1,024 envs x 64 steps
with 4 epochs. The Feistel network is a handful of elementwise integer operations per
index plus one cumulative sum, ~100x cheaper, and it is a bijection by construction.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

_FEISTEL_ROUNDS = 6  # 4 already make a pseudo-random permutation from random round functions; 2 more for margin
# Below this the halves of an index have < 3 bits, too few round functions for a near-uniform
# draw, and a sort of so few keys costs nothing anyway.
_SMALLEST_FEISTEL = 64


def _mix(x: jax.Array) -> jax.Array:
    """A 32-bit integer hash with full avalanche (murmur3's finaliser): the Feistel round function."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def feistel_permutation(key: jax.Array, num_items: int) -> jax.Array:
    """A pseudo-random permutation of ``range(num_items)`` drawn by ``key``: ``int32 [num_items]``.

    A balanced Feistel network with keyed rounds permutes ``[0, 4**h)`` for the smallest
    ``4**h >= num_items`` (each half of an index is ``h`` bits); the images below
    ``num_items`` then keep their order and fill the output ("cycle-walking" with static
    shapes). Any key gives a bijection, and different keys give unrelated permutations.
    Cost: ``O(4**h)`` elementwise work, ``4**h < 4 * num_items``. Fewer than 64 items are
    shuffled by ``jax.random.permutation``.
    """
    if num_items < _SMALLEST_FEISTEL:
        return jax.random.permutation(key, num_items).astype(jnp.int32)
    half_bits = max(1, ((num_items - 1).bit_length() + 1) // 2)
    half_mask = jnp.uint32((1 << half_bits) - 1)
    round_keys = jax.random.bits(key, (_FEISTEL_ROUNDS,), jnp.uint32)
    index = jnp.arange(1 << (2 * half_bits), dtype=jnp.uint32)
    left, right = index >> half_bits, index & half_mask
    for round_index in range(_FEISTEL_ROUNDS):
        left, right = right, left ^ (_mix(right ^ round_keys[round_index]) & half_mask)
    image = ((left << half_bits) | right).astype(jnp.int32)
    if image.shape[0] == num_items:  # a power of 4: every image is in range, nothing to compact
        return image
    keep = image < num_items
    slot = jnp.where(keep, jnp.cumsum(keep) - 1, num_items)  # out-of-range images go to a dropped slot
    return jnp.zeros(num_items, jnp.int32).at[slot].set(image, mode="drop", unique_indices=True)


def shuffled_minibatches(key: jax.Array, samples: Any, num_minibatches: int) -> Any:
    """``samples`` (a pytree of ``[N, ...]`` arrays) permuted by ``key`` along ``N`` and cut into
    ``[num_minibatches, N / num_minibatches, ...]``; ``num_minibatches`` must divide ``N``."""
    num_samples = jax.tree.leaves(samples)[0].shape[0]
    order = feistel_permutation(key, num_samples)
    size = num_samples // num_minibatches
    return jax.tree.map(lambda x: x[order].reshape((num_minibatches, size, *x.shape[1:])), samples)
