"""What stops a run on purpose: non-finite learner values, and Ctrl-C at a safe point.

Both loops use these so a stop always leaves the last good checkpoint on disk and
never a bad or half-made one.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType

# Learner quantities that must stay finite; an agent reports those it has.
GUARDED_METRICS = ("policy_loss", "value_loss", "grad_norm", "actor_loss", "critic_loss", "param_norm")


class TrainingError(RuntimeError):
    """Training produced something unusable (e.g. a non-finite loss)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run at a safe point, after saving a checkpoint (the message says where)."""


def non_finite_metric(metrics: Mapping[str, float]) -> str | None:
    """The first guarded metric of one update or record that is NaN/inf, or None.

    TD3's delayed actor reports a NaN ``actor_loss`` for a stretch without an actor step;
    that alone is not a failure (the critic loss, updated every step, still catches
    divergence).
    """
    for name in GUARDED_METRICS:
        value = metrics.get(name)
        if value is None or math.isfinite(value):
            continue
        if name == "actor_loss" and math.isnan(value) and "critic_loss" in metrics:
            continue
        return name
    return None


def check_finite_metrics(metrics: Mapping[str, float], where: str) -> None:
    """Raise :class:`TrainingError` naming ``where`` (e.g. "update 12") and the quantity."""
    name = non_finite_metric(metrics)
    if name is not None:
        raise TrainingError(f"{where}: {name} is {metrics[name]}; stopping without saving this state "
                            "(the last good checkpoint is kept)")


class StopRequest:
    """While active, the first Ctrl-C (SIGINT) only sets ``requested``: the loop saves a checkpoint
    at its next safe point (after the current update) and raises :class:`TrainingInterrupted`.
    A second Ctrl-C raises ``KeyboardInterrupt`` at once, without saving. Outside the main thread
    (where signal handlers cannot be set) it does nothing and Ctrl-C behaves as usual."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._active = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\njaxrl: stopping after the current update to save a checkpoint (Ctrl-C again: stop now, "
              "without saving)", file=sys.stderr)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._active = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)
            self._active = False
