"""Action distributions as small pytrees: categorical and diagonal Gaussian.

Each offers ``log_prob``, ``entropy``, ``sample`` and ``mode``. Batch dimensions
lead; the Gaussian's last axis is the action dimension and is summed over.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


class Categorical(NamedTuple):
    """Categorical over ``A`` actions from unnormalised ``logits [..., A]``."""

    logits: jax.Array

    def log_prob(self, actions: jax.Array) -> jax.Array:
        """``actions [...]`` integer -> ``[...]``."""
        log_p = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(log_p, actions[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        """``[...]``: ``-sum_a p_a log p_a``."""
        log_p = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)

    def sample(self, key: jax.Array) -> jax.Array:
        """Integer actions ``[...]``."""
        return self.sample_from_noise(jax.random.gumbel(key, self.logits.shape, self.logits.dtype))

    def sample_from_noise(self, noise: jax.Array) -> jax.Array:
        """Gumbel-max: ``argmax(logits + noise)`` with ``noise [..., A]`` standard Gumbel draws.

        Zero noise gives the mode, so a deterministic policy is the same code path.
        """
        return jnp.argmax(self.logits + noise, axis=-1)

    def mode(self) -> jax.Array:
        """The most likely action ``[...]``."""
        return jnp.argmax(self.logits, axis=-1)


class DiagGaussian(NamedTuple):
    """Diagonal Gaussian with ``mean [..., D]`` and ``log_std`` broadcastable to it."""

    mean: jax.Array
    log_std: jax.Array

    def log_prob(self, actions: jax.Array) -> jax.Array:
        """``actions [..., D]`` -> ``[...]`` (summed over ``D``)."""
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        z = (actions - self.mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        """``[...]``: ``sum_d (log_std_d + 0.5 * log(2 pi e))``."""
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        return jnp.sum(log_std + 0.5 * (_LOG_2PI + 1.0), axis=-1)

    def sample(self, key: jax.Array) -> jax.Array:
        """``[..., D]`` draws, unclipped (the env adapter clips to the Box bounds)."""
        return self.sample_from_noise(jax.random.normal(key, self.mean.shape, self.mean.dtype))

    def sample_from_noise(self, noise: jax.Array) -> jax.Array:
        """``mean + std * noise`` with ``noise [..., D]`` standard normal draws (zero noise: the mode)."""
        return self.mean + jnp.exp(self.log_std) * noise

    def mode(self) -> jax.Array:
        """The mean ``[..., D]``."""
        return self.mean
