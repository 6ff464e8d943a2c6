"""Episode statistics with ONE meaning in both loops.

``episodic_return`` / ``episodic_length`` of a metrics record are the mean raw return and
length of the last :data:`RETURN_WINDOW` episodes finished by the end of that record (fewer
while fewer have finished; NaN -- ``null`` in metrics.jsonl -- only before the first episode
ends), and ``episodes`` is the number finished so far. The host loop keeps them in NumPy
(:class:`EpisodeTracker`), the device loop inside jit (:class:`EpisodeStats`); a test holds
the two to the same numbers.
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

RETURN_WINDOW = 20  # finished episodes averaged into episodic_return


class EpisodeTracker:
    """Host side: returns and lengths of running episodes ``[B]`` and the recent finished ones."""

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, np.float64)
        self.lengths = np.zeros(num_envs, np.int64)
        self.finished: collections.deque[tuple[float, int]] = collections.deque(maxlen=RETURN_WINDOW)
        self.total_finished = 0

    def record(self, rewards: np.ndarray, ended: np.ndarray, valid: np.ndarray) -> None:
        """Add one vector step: ``rewards``, ``ended`` (terminated | truncated) and ``valid`` ``[B]``."""
        self.returns += rewards * valid
        self.lengths += valid
        for index in np.flatnonzero(ended):
            self.finished.append((float(self.returns[index]), int(self.lengths[index])))
            self.returns[index] = 0.0
            self.lengths[index] = 0
        self.total_finished += int(np.count_nonzero(ended))

    def mean_return(self) -> float | None:
        return float(np.mean([r for r, _ in self.finished])) if self.finished else None

    def mean_length(self) -> float | None:
        return float(np.mean([n for _, n in self.finished])) if self.finished else None

    def metrics(self) -> dict[str, Any]:
        """``{"episodic_return", "episodic_length", "episodes"}`` (None before the first episode ends)."""
        return {"episodic_return": self.mean_return(), "episodic_length": self.mean_length(),
                "episodes": self.total_finished}

    def to_dict(self) -> dict[str, Any]:
        """The finished-episode window and count (running episodes restart on resume)."""
        return {"finished": [list(item) for item in self.finished], "total_finished": self.total_finished}

    def load_dict(self, saved: dict[str, Any]) -> None:
        self.finished.clear()
        self.finished.extend((float(r), int(n)) for r, n in saved["finished"])
        self.total_finished = int(saved["total_finished"])


class EpisodeStats(NamedTuple):
    """Device side: running episodes ``[B]`` and a ring of the last :data:`RETURN_WINDOW` finished."""

    returns: jax.Array  # [B] float32, return so far of each running episode
    lengths: jax.Array  # [B] int32
    recent_returns: jax.Array  # [W] float32, ring buffer of finished episodes' returns
    recent_lengths: jax.Array  # [W] float32
    total_finished: jax.Array  # int32 [], episodes finished so far (the ring's write position mod W)

    @classmethod
    def zeros(cls, num_envs: int) -> EpisodeStats:
        window = jnp.zeros(RETURN_WINDOW, jnp.float32)
        return cls(jnp.zeros(num_envs, jnp.float32), jnp.zeros(num_envs, jnp.int32), window, window,
                   jnp.zeros((), jnp.int32))

    def step(self, rewards: jax.Array, done: jax.Array) -> EpisodeStats:
        """Add one vector step ``[B]``; episodes that ended enter the ring in env order, so the ring
        holds the same episodes as the host tracker's window."""
        returns, lengths = self.returns + rewards, self.lengths + 1
        rank = jnp.cumsum(done, dtype=jnp.int32)  # 1-based rank of each ended env among this step's ended
        ended_now = rank[-1]
        keep = done & (rank > ended_now - RETURN_WINDOW)  # more than W at once: the last W survive
        slots = jnp.where(keep, (self.total_finished + rank - 1) % RETURN_WINDOW, RETURN_WINDOW)
        return EpisodeStats(
            returns * ~done, lengths * ~done,
            self.recent_returns.at[slots].set(returns, mode="drop"),
            self.recent_lengths.at[slots].set(lengths.astype(jnp.float32), mode="drop"),
            self.total_finished + ended_now,
        )

    def metrics(self) -> dict[str, jax.Array]:
        """``{"episodic_return", "episodic_length", "episodes"}`` as scalars (NaN before any episode ends)."""
        count = jnp.minimum(self.total_finished, RETURN_WINDOW)
        filled = jnp.arange(RETURN_WINDOW) < count
        mean = lambda x: jnp.where(count > 0, jnp.sum(jnp.where(filled, x, 0.0)) / jnp.maximum(count, 1), jnp.nan)
        return {"episodic_return": mean(self.recent_returns), "episodic_length": mean(self.recent_lengths),
                "episodes": self.total_finished}
