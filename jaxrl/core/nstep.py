"""n-step returns of sampled items: ``rewards [N, n]`` (zeros past each item's horizon) and the
horizon in ``extras["nstep"]``, as :func:`jaxrl.core.sequence_replay.sequence_sample` reads them
from the steps after an item (stopping at its episode's end). The agent discounts them with its
own (vmappable) gamma at update time; a termination inside the horizon stops the bootstrap, a
truncation bootstraps from the true final observation, ``gamma ** nstep`` ahead.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def nstep_returns(rewards: jax.Array, extras: dict[str, Any], gamma: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(returns [N], bootstrap discount [N])`` of sampled items: for 1-step items (``rewards [N]``)
    the rewards and ``gamma``; for n-step ones ``sum_i gamma**i rewards[:, i]`` and ``gamma**nstep``."""
    if rewards.ndim == 1:
        return rewards, jnp.broadcast_to(jnp.asarray(gamma, rewards.dtype), rewards.shape)
    powers = jnp.asarray(gamma, rewards.dtype) ** jnp.arange(rewards.shape[-1], dtype=rewards.dtype)
    return rewards @ powers, jnp.asarray(gamma, rewards.dtype) ** extras["nstep"].astype(rewards.dtype)
