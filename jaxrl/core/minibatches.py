"""Shuffled minibatches of a batch of samples, for the epoch loops of on-policy updates."""

from __future__ import annotations

from typing import Any

import jax


def shuffled_minibatches(key: jax.Array, samples: Any, num_minibatches: int) -> Any:
    """``samples`` (a pytree of ``[N, ...]`` arrays) permuted by ``key`` along ``N`` and cut into
    ``[num_minibatches, N / num_minibatches, ...]``; ``num_minibatches`` must divide ``N``."""
    num_samples = jax.tree.leaves(samples)[0].shape[0]
    order = jax.random.permutation(key, num_samples)
    size = num_samples // num_minibatches
    return jax.tree.map(lambda x: x[order].reshape((num_minibatches, size, *x.shape[1:])), samples)
