"""The loops' replay buffer: each env's steps in time order, so a step's next observation is the
row after it and is stored once, not twice.

A flat buffer of transitions (:mod:`jaxrl.core.replay`) keeps ``obs`` and ``next_obs`` for every
item; for Atari frame stacks (28 KB each) that is 56 KB a transition and 56 GB for a 1M replay.
Here env ``e``'s steps fill rows ``[T, e]`` in the order they happen and an item's next
observation is read from the row that follows it: half the memory for image observations.

Layout per env, oldest to newest (``|`` = a segment end)::

    step, step, step |, final obs, step, step, ... , step   (newest; its next obs is ``pending``)

    with frame stacks:  older frame x3, step, step |, final, older frame x3, step, ...

A *segment* is an episode, or the part of one before a resumed run reset the envs. Where one
ends (terminated, truncated or cut) the true final observation takes a row of its own, flagged
as not a step, so truncation bootstraps from it exactly. n-step returns are read at sampling time
from the rows that follow an item, stopping at its segment's end, so the learner gets the same
items as from a window of unfinished steps (``rewards [n]`` zero-padded, ``extras["nstep"]``
their horizon, :func:`jaxrl.core.nstep.nstep_returns`).

Frame stacks (Atari's 4 frames on the last axis, ``frame_stack=4``) go further: a row stores
only its step's newest frame and an observation is rebuilt from the ``frame_stack`` rows that end
with it. Each segment starts with ``frame_stack - 1`` rows of its first observation's older
frames, so a rebuilt stack is the env's own whatever its padding at reset: a quarter of the
memory again (1M Atari steps in 7 GB, where transitions of two stacks take 56 GB).

Sampling is uniform over the complete items: ``OVERSAMPLE`` x batch draws of (env, age) cells,
the first ``batch_size`` that are complete kept in draw order (each kept draw is uniform over the
complete items). Cells that are not complete: a final-obs row, an older-frame row, a row not yet
written, an oldest step whose older frames were overwritten, and the newest steps whose n-step
horizon has not been seen yet.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.config import check_replay_capacity
from jaxrl.types import Transition

# Draws per sampled item. With a fraction p of incomplete cells (final rows: one per episode; older-
# frame rows: three more per Atari episode; the newest n - 1 steps of each env), a batch of B falls short
# with probability P[Binomial(2B, 1 - p) < B]: below 1e-4 for p <= 0.3 and B >= 32, so only for episodes
# of one or two steps. A short batch repeats its complete draws in order, so every item in it is still
# a uniform draw; the batch only holds fewer distinct ones. SAC at 1,024 envs, batches of 4,096, 320
# gradient steps on this CPU: 2.0-2.6 s against the transition buffer's 2.2-2.7 s (four draws an item
# took 2.1-2.8 s against 1.9-2.3 s); compilation ~0.5 s longer.
OVERSAMPLE = 2


@struct.dataclass
class SequenceReplay:
    steps: Transition  # leaves [T, E, ...]; next_obs is None (the row after a step holds it)
    ends: jax.Array  # bool [T, E]: a segment ends with this row's step (and on every final-obs row)
    is_step: jax.Array  # bool [T, E]: False on final-obs rows, older-frame rows and rows never written
    cursor: jax.Array  # int32 [E]: the row each env writes next
    filled: jax.Array  # int32 [E]: rows each env has written, at most T
    pending: Any  # obs leaves [E, ...]: each env's newest next observation (what a cut stores)
    open: jax.Array  # bool [E]: the env's newest step has no final-obs row yet
    n_step: int = struct.field(pytree_node=False, default=1)
    frame_stack: int = struct.field(pytree_node=False, default=0)  # > 1: rows hold the newest frame of a stack

    @property
    def rows(self) -> int:
        return self.ends.shape[0]


def rows_per_env(capacity: int, num_envs: int) -> int:
    """Rows each env gets for a buffer of ``capacity`` items: ``ceil(capacity / num_envs)``."""
    return -(-capacity // num_envs)


def sequence_bytes(capacity: int, example: Transition, frame_stack: int = 0) -> int:
    """Bytes :func:`sequence_init` allocates for ``capacity`` items of ``example`` (leaves ``[E, ...]``)."""
    num_envs = example.rewards.shape[0]
    rows = rows_per_env(capacity, num_envs) * num_envs
    stored = _stored_step(example, frame_stack)
    return rows * (item_bytes(stored) + 2) + num_envs * (item_bytes(example.obs) + 9)


def _stored_step(example: Transition, frame_stack: int) -> Transition:
    """What one row stores of a step shaped like ``example`` (leaves ``[E, ...]``): no next_obs, and of a
    frame stack its newest frame only (shape structs)."""
    step = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype), example.replace(next_obs=None))
    if frame_stack > 1:
        obs = example.obs
        if not hasattr(obs, "shape") or obs.ndim < 2 or obs.shape[-1] != frame_stack:
            raise ValueError(f"frame_stack={frame_stack} needs one observation array whose last axis holds the "
                             f"{frame_stack} frames, got {jax.tree.map(lambda leaf: leaf.shape, obs)}")
        step = step.replace(obs=jax.ShapeDtypeStruct(obs.shape[:-1], obs.dtype))
    return step


def item_bytes(example: Any) -> int:
    """Bytes one stored item of ``example`` (leaves ``[N, ...]``) takes."""
    return sum(math.prod(leaf.shape[1:]) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(example))


def sequence_init(capacity: int, example: Transition, n_step: int = 1, frame_stack: int = 0) -> SequenceReplay:
    """An empty buffer of ``capacity`` items for steps shaped like ``example`` (leaves ``[E, ...]``,
    arrays or shape structs; every add passes the same ``E`` envs in the same order). With
    ``frame_stack > 1`` the observations are that many frames stacked on their last axis."""
    if capacity < 1:
        raise ValueError(f"buffer_size must be >= 1, got {capacity}")
    if n_step < 1:
        raise ValueError(f"n_step must be >= 1, got {n_step}")
    num_envs = example.rewards.shape[0]
    check_replay_capacity(capacity, num_envs, n_step, frame_stack)
    rows = rows_per_env(capacity, num_envs)
    steps = jax.tree.map(lambda leaf: jnp.zeros((rows, *leaf.shape), leaf.dtype), _stored_step(example, frame_stack))
    flags = jnp.zeros((rows, num_envs), bool)
    counters = jnp.zeros(num_envs, jnp.int32)
    pending = jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), example.obs)
    return SequenceReplay(steps=steps, ends=flags, is_step=flags, cursor=counters, filled=counters, pending=pending,
                          open=jnp.zeros(num_envs, bool), n_step=n_step, frame_stack=max(frame_stack, 0))


def _write(store: jax.Array, rows: jax.Array, values: jax.Array, keep: jax.Array) -> jax.Array:
    """``store [T, E, ...]`` with ``values [E, ...]`` at ``(rows[e], e)`` for envs where ``keep [E]``."""
    num_rows, num_envs = store.shape[:2]
    rows = jnp.where(keep, rows, num_rows)  # past the end: dropped by the scatter
    return store.at[rows, jnp.arange(num_envs)].set(jnp.asarray(values).astype(store.dtype), mode="drop")


def _advance(buffer: SequenceReplay, rows: jax.Array) -> dict[str, jax.Array]:
    """The counters after each env wrote ``rows [E]`` more rows."""
    return {"cursor": (buffer.cursor + rows) % buffer.rows, "filled": jnp.minimum(buffer.filled + rows, buffer.rows)}


def _history(buffer: SequenceReplay) -> int:
    """Rows before a step's own that its observation is rebuilt from: ``frame_stack - 1``, or 0."""
    return max(buffer.frame_stack - 1, 0)


def _row_value(buffer: SequenceReplay, obs: Any) -> Any:
    """What a row stores of observations ``obs`` (leaves ``[E, ...]``): of a frame stack its newest frame."""
    return obs[..., -1] if buffer.frame_stack > 1 else obs


def sequence_add(buffer: SequenceReplay, batch: Transition, mask: jax.Array | None = None) -> SequenceReplay:
    """Store one vector-env step ``batch`` (leaves ``[E, ...]``). Envs with ``mask [E] == False``
    (a step whose action the env ignored) write nothing. An env whose episode ended also writes
    the true final observation, ``batch.next_obs``, into the row after its step; with frame stacks
    an env starting a segment first writes its observation's older frames, one row each."""
    num_envs = buffer.cursor.shape[0]
    keep = jnp.ones(num_envs, bool) if mask is None else jnp.asarray(mask, bool)
    ended = jnp.asarray(batch.terminated | batch.truncated, bool)
    final = keep & ended
    history = _history(buffer)
    starts = keep & ~buffer.open if history else jnp.zeros(num_envs, bool)
    here = (buffer.cursor + jnp.where(starts, history, 0)) % buffer.rows
    after = (here + 1) % buffer.rows
    step = batch.replace(obs=_row_value(buffer, batch.obs), next_obs=None)
    steps = jax.tree.map(lambda store, new: _write(store, here, new, keep), buffer.steps, step)
    obs, ends, is_step = steps.obs, _write(buffer.ends, here, ended, keep), _write(buffer.is_step, here, keep, keep)
    for frame in range(history):  # a segment's first stack: its older frames, oldest first
        row = (buffer.cursor + frame) % buffer.rows
        obs = _write(obs, row, batch.obs[..., frame], starts)
        ends, is_step = _write(ends, row, starts, starts), _write(is_step, row, ~starts, starts)
    obs = jax.tree.map(lambda store, new: _write(store, after, new, final), obs, _row_value(buffer, batch.next_obs))
    ends, is_step = _write(ends, after, final, final), _write(is_step, after, ~final, final)
    pending = jax.tree.map(lambda old, new: jnp.where(_rows_of(keep, old), jnp.asarray(new).astype(old.dtype), old),
                           buffer.pending, batch.next_obs)
    written = starts.astype(jnp.int32) * history + keep + final
    return buffer.replace(steps=steps.replace(obs=obs), ends=ends, is_step=is_step, pending=pending,
                          open=jnp.where(keep, ~ended, buffer.open), **_advance(buffer, written))


def sequence_cut(buffer: SequenceReplay) -> SequenceReplay:
    """End every open segment where it stands: its newest step's next observation (``pending``)
    becomes a final-obs row. Call it when the envs restart without ending their episodes (a resumed
    run resets them): the stored steps keep their true next observations, and no item's n-step
    horizon runs into the new episodes. Neither ``terminated`` nor ``truncated`` is set, so those
    items bootstrap."""
    newest = (buffer.cursor - 1) % buffer.rows
    cut = buffer.open
    ends = _write(_write(buffer.ends, newest, cut, cut), buffer.cursor, cut, cut)
    is_step = _write(buffer.is_step, buffer.cursor, ~cut, cut)
    obs = jax.tree.map(lambda store, new: _write(store, buffer.cursor, new, cut), buffer.steps.obs,
                       _row_value(buffer, buffer.pending))
    return buffer.replace(steps=buffer.steps.replace(obs=obs), ends=ends, is_step=is_step,
                          open=jnp.zeros_like(cut), **_advance(buffer, cut.astype(jnp.int32)))


def _observations(buffer: SequenceReplay, rows: jax.Array, envs: jax.Array) -> Any:
    """The observations of rows ``rows [B]`` of envs ``envs [B]``: leaves ``[B, ...]``, frame stacks rebuilt."""
    if buffer.frame_stack <= 1:
        return jax.tree.map(lambda store: store[rows, envs], buffer.steps.obs)
    history = (rows[:, None] + jnp.arange(-_history(buffer), 1)) % buffer.rows  # [B, frame_stack], oldest first
    return jnp.moveaxis(buffer.steps.obs[history, envs[:, None]], 1, -1)


def sequence_sample(buffer: SequenceReplay, key: jax.Array, batch_size: int) -> Transition:
    """``batch_size`` complete items, uniform with replacement: a Transition with leaves ``[B, ...]``
    (``rewards [B]``, or ``[B, n]`` and ``extras["nstep"] [B]`` for an n-step buffer)."""
    envs, rows, horizon = _draw_items(buffer, key, batch_size)
    n = buffer.n_step
    last = (rows + horizon - 1) % buffer.rows

    def at(store: jax.Array, row: jax.Array) -> jax.Array:
        return store[row, envs]

    items = jax.tree.map(lambda store: at(store, rows), buffer.steps.replace(obs=None, rewards=None, terminated=None,
                                                                              truncated=None))
    after = (rows + horizon) % buffer.rows
    newest = after == buffer.cursor[envs]  # the item's horizon reaches the env's newest step: next obs is pending
    next_obs = jax.tree.map(lambda rebuilt, pending: jnp.where(_rows_of(newest, rebuilt), pending[envs], rebuilt),
                            _observations(buffer, after, envs), buffer.pending)
    items = items.replace(obs=_observations(buffer, rows, envs), terminated=at(buffer.steps.terminated, last),
                          truncated=at(buffer.steps.truncated, last), next_obs=next_obs)
    if n == 1:
        return items.replace(rewards=at(buffer.steps.rewards, rows))
    offsets = jnp.arange(n)
    rewards = buffer.steps.rewards[(rows[:, None] + offsets) % buffer.rows, envs[:, None]]  # [B, n]
    rewards = jnp.where(offsets < horizon[:, None], rewards, 0)
    return items.replace(rewards=rewards, extras={**items.extras, "nstep": horizon})


def _draw_items(buffer: SequenceReplay, key: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(envs, rows, horizon)``, each ``[batch_size]``: uniform complete items and their n-step horizons.

    A draw is an (env, age) cell, age 0 being the env's newest row. Its horizon is the number of
    rows up to and including the first segment end among the next ``n``, or ``n``; it is complete
    when it is a step row that has been written and so have the rows of its horizon (the next
    observation is the row after them, or ``pending`` after the newest step) and, for frame
    stacks, the rows of its older frames. Rows past the newest
    may hold an older lap's flags: a horizon they set reaches past the newest row, so the draw is
    refused either way."""
    num_rows, num_envs = buffer.ends.shape
    draws = batch_size * OVERSAMPLE
    env_key, age_key = jax.random.split(key)
    envs = jax.random.randint(env_key, (draws,), 0, num_envs)
    ages = jax.random.randint(age_key, (draws,), 0, jnp.maximum(jnp.max(buffer.filled), 1))
    rows = (buffer.cursor[envs] - 1 - ages) % num_rows
    ahead = buffer.ends[(rows[:, None] + jnp.arange(buffer.n_step)) % num_rows, envs[:, None]]  # [draws, n]
    horizon = jnp.where(ahead.any(axis=1), jnp.argmax(ahead, axis=1) + 1, buffer.n_step).astype(jnp.int32)
    complete = (ages + _history(buffer) < buffer.filled[envs]) & buffer.is_step[rows, envs] & (ages >= horizon - 1)
    # the first batch_size complete draws, in draw order; short of them, the complete ones again, in order
    (first,) = jnp.nonzero(complete, size=batch_size, fill_value=0)
    slots = jnp.arange(batch_size)
    chosen = first[slots % jnp.maximum(jnp.sum(complete, dtype=jnp.int32), 1)]
    return envs[chosen], rows[chosen], horizon[chosen]


def _rows_of(mask: jax.Array, like: jax.Array) -> jax.Array:
    """``mask [E]`` broadcastable against ``like [E, ...]``."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
