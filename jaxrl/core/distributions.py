"""Action distributions as small pytrees: categorical, factored categorical (one per action
component) and diagonal Gaussian.

Each offers ``log_prob``, ``entropy``, ``sample`` and ``mode``. Batch dimensions
lead; the Gaussian's last axis is the action dimension and is summed over.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

_LOG_2PI = math.log(2.0 * math.pi)


class Categorical(NamedTuple):
    """Categorical over ``A`` actions from unnormalised ``logits [..., A]``."""

    logits: jax.Array

    def log_prob(self, actions: jax.Array) -> jax.Array:
        """``actions [...]`` integer -> ``[...]``."""
        log_p = jax.nn.log_softmax(self.logits)
        # A select, not a gather: the same value, and its gradient is a select too where a gather's
        # is a scatter-add (an extra XLA kernel in every minibatch step; A is small). An action
        # outside [0, A) gets NaN, for the guards to catch.
        chosen = actions[..., None] == jnp.arange(log_p.shape[-1])
        return jnp.where(jnp.any(chosen, axis=-1), jnp.sum(jnp.where(chosen, log_p, 0.0), axis=-1), jnp.nan)

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


class FactoredCategorical(NamedTuple):
    """Independent categoricals, one per action component (a MultiDiscrete or MultiBinary space):
    ``logits [..., sum(nvec)]``, component ``i`` reading the next ``nvec[i]`` of them; actions
    ``[..., len(nvec)]``. Log-probabilities and entropies add over components."""

    logits: jax.Array
    nvec: tuple[int, ...]  # static: choices per component

    def slices(self) -> list[slice]:
        """Where each component's logits (and Gumbel noise) sit on the last axis."""
        bounds = np.cumsum((0, *self.nvec)).tolist()
        return [slice(start, end) for start, end in zip(bounds[:-1], bounds[1:])]

    def components(self) -> list[Categorical]:
        return [Categorical(self.logits[..., part]) for part in self.slices()]

    def log_prob(self, actions: jax.Array) -> jax.Array:
        """``actions [..., K]`` integer -> ``[...]``."""
        return sum(part.log_prob(actions[..., i]) for i, part in enumerate(self.components()))

    def entropy(self) -> jax.Array:
        return sum(part.entropy() for part in self.components())

    def sample(self, key: jax.Array) -> jax.Array:
        return self.sample_from_noise(jax.random.gumbel(key, self.logits.shape, self.logits.dtype))

    def sample_from_noise(self, noise: jax.Array) -> jax.Array:
        """Gumbel-max per component, ``noise [..., sum(nvec)]`` -> ``[..., K]`` (zero noise: the mode)."""
        return jnp.stack([component.sample_from_noise(noise[..., part])
                          for component, part in zip(self.components(), self.slices())], axis=-1)

    def mode(self) -> jax.Array:
        return jnp.stack([part.mode() for part in self.components()], axis=-1)


def discrete_distribution(logits: jax.Array, nvec: tuple[int, ...]) -> Categorical | FactoredCategorical:
    """The policy over a discrete action space: one categorical, or one per component where the
    env's ``EnvSpec.action_nvec`` lists several."""
    return FactoredCategorical(logits, nvec) if nvec else Categorical(logits)


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


def _log_one_minus_tanh_squared(pre_tanh: jax.Array) -> jax.Array:
    """``log(1 - tanh(u)^2)`` computed stably as ``2 * (log 2 - u - softplus(-2u))``."""
    return 2.0 * (math.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))


class TanhGaussian(NamedTuple):
    """``a = low + (tanh(u) + 1) / 2 * (high - low)`` with ``u ~ N(mean, exp(log_std)^2)``.

    ``log_prob`` includes the change-of-variables term of tanh and of the affine map to
    the Box, so it is the density of the Box action itself.
    """

    mean: jax.Array  # [..., D]
    log_std: jax.Array  # [..., D]
    low: jax.Array  # [D]
    high: jax.Array  # [D]

    def sample_from_noise(self, noise: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(actions [..., D], log_prob [...])`` from standard normal ``noise [..., D]`` (zero: the mode)."""
        pre_tanh = self.mean + jnp.exp(self.log_std) * noise
        gaussian = DiagGaussian(self.mean, self.log_std).log_prob(pre_tanh)
        half_range = 0.5 * (self.high - self.low)
        correction = jnp.sum(_log_one_minus_tanh_squared(pre_tanh) + jnp.log(half_range), axis=-1)
        actions = self.low + (jnp.tanh(pre_tanh) + 1.0) * half_range
        return actions, gaussian - correction

    def sample(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.sample_from_noise(jax.random.normal(key, self.mean.shape, self.mean.dtype))

    def mode(self) -> jax.Array:
        return self.low + (jnp.tanh(self.mean) + 1.0) * 0.5 * (self.high - self.low)


ActionDistribution = Categorical | FactoredCategorical | DiagGaussian
