"""n-step returns for the replay buffer: a window of each env's last ``n - 1`` unfinished
transitions, turned into n-step items as the envs step.

Pushing step ``t``'s transitions ``[B]`` emits, per env, the item of step ``t - n + 1`` (once
``n`` steps are in the window), and at an episode's end every item still in its window, each
with a shorter horizon. An item keeps the raw rewards of its horizon, ``rewards [n]`` (zeros
past it), and the horizon in ``extras["nstep"]``; the agent discounts them with its own
(vmappable) gamma at update time (:func:`nstep_returns`). ``terminated``, ``truncated`` and
``next_obs`` are those of the window's newest step: a termination stops the bootstrap, a
truncation bootstraps from the true final observation, ``gamma ** nstep`` ahead.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.types import Transition


@struct.dataclass
class NStepWindow:
    steps: Transition  # leaves [n - 1, B, ...]: each env's last unfinished steps, right-aligned (newest last)
    count: jax.Array  # int32 [B]: how many of those steps are real


def nstep_item(example: Transition, n: int) -> Transition:
    """What a buffer stores per item for ``n``-step returns, given 1-step ``example`` leaves ``[B, ...]``."""
    rewards = jax.ShapeDtypeStruct((*example.rewards.shape, n), example.rewards.dtype)
    nstep = jax.ShapeDtypeStruct(example.rewards.shape, jnp.int32)
    return example.replace(rewards=rewards, extras={**example.extras, "nstep": nstep})


def nstep_window_init(example: Transition, n: int) -> NStepWindow:
    """An empty window for the envs of ``example`` (leaves ``[B, ...]``, arrays or shape structs)."""
    steps = jax.tree.map(lambda leaf: jnp.zeros((n - 1, *leaf.shape), leaf.dtype), example)
    return NStepWindow(steps=steps, count=jnp.zeros(example.rewards.shape, jnp.int32))


def nstep_push(window: NStepWindow, batch: Transition, valid: jax.Array) -> tuple[NStepWindow, Transition, jax.Array]:
    """Add step ``t``'s ``batch`` (leaves ``[B, ...]``; envs with ``valid [B] == False`` are left
    out). Returns the new window, the candidate items ``[n, B, ...]`` (position ``j`` is the
    window's ``j``-th step, newest last) and which of them to store, ``[n, B]``."""
    n = window.steps.rewards.shape[0] + 1
    steps = jax.tree.map(lambda old, new: jnp.concatenate([old, new[None]]), window.steps, batch)  # [n, B, ...]
    position = jnp.arange(n)[:, None]  # [n, 1]
    real = position >= (n - 1 - window.count)[None]  # [n, B]
    ended = batch.terminated | batch.truncated
    full = window.count == n - 1
    emit = valid[None] & real & (ended[None] | ((position == 0) & full[None]))
    # item j's rewards: steps j..n-1 of the window, shifted to the front and zero-padded
    offsets = position + jnp.arange(n)[None, :]  # [n, n]: window index of reward i of item j
    rewards = jnp.where((offsets < n)[..., None], steps.rewards[jnp.minimum(offsets, n - 1)], 0.0)  # [n, n, B]
    items = Transition(
        obs=steps.obs, actions=steps.actions, rewards=jnp.moveaxis(rewards, 1, -1),
        terminated=jnp.broadcast_to(batch.terminated, (n, *batch.terminated.shape)),
        truncated=jnp.broadcast_to(batch.truncated, (n, *batch.truncated.shape)),
        next_obs=jnp.broadcast_to(batch.next_obs, (n, *batch.next_obs.shape)),
        extras={**steps.extras, "nstep": jnp.broadcast_to(n - position, emit.shape).astype(jnp.int32)})
    shifted = NStepWindow(steps=jax.tree.map(lambda leaf: leaf[1:], steps),
                          count=jnp.where(ended, 0, jnp.minimum(window.count + 1, n - 1)))
    kept = jax.tree.map(lambda new, old: jnp.where(_expand(valid, new), new, old), shifted, window)
    return kept, items, emit


def _expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    """``mask [B]`` broadcastable against ``like [..., B, ...]`` whose env axis is the first of a
    window's steps' leaves after the step axis (or the only axis of ``count``)."""
    if like.ndim == 1:
        return mask
    return mask.reshape((1, mask.shape[0]) + (1,) * (like.ndim - 2))


def nstep_returns(rewards: jax.Array, extras: dict[str, Any], gamma: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(returns [N], bootstrap discount [N])`` of sampled items: for 1-step items (``rewards [N]``)
    the rewards and ``gamma``; for n-step ones ``sum_i gamma**i rewards[:, i]`` and ``gamma**nstep``."""
    if rewards.ndim == 1:
        return rewards, jnp.broadcast_to(jnp.asarray(gamma, rewards.dtype), rewards.shape)
    powers = jnp.asarray(gamma, rewards.dtype) ** jnp.arange(rewards.shape[-1], dtype=rewards.dtype)
    return rewards @ powers, jnp.asarray(gamma, rewards.dtype) ** extras["nstep"].astype(rewards.dtype)
