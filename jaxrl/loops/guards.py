"""What stops a run on purpose: non-finite learner values, and Ctrl-C at a safe point.

Both loops use these so a stop always leaves the last good checkpoint on disk and
never a bad or half-made one.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType


class TrainingError(RuntimeError):
    """Training produced something unusable (e.g. a non-finite loss)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run at a safe point, after saving a checkpoint (the message says where)."""


def non_finite_metric(metrics: Mapping[str, float], names: Sequence[str], nan_allowed: Sequence[str] = ()
                      ) -> str | None:
    """The first of ``names`` (the algorithm's must-be-finite metrics, see the registry) that is
    NaN/inf in one update's or record's ``metrics``, or None. Those in ``nan_allowed`` may be NaN
    (not computed in that stretch, e.g. TD3's delayed actor loss) but never inf."""
    for name in names:
        value = metrics.get(name)
        if value is None or math.isfinite(value) or (math.isnan(value) and name in nan_allowed):
            continue
        return name
    return None


def check_finite_metrics(metrics: Mapping[str, float], where: str, names: Sequence[str],
                         nan_allowed: Sequence[str] = ()) -> None:
    """Raise :class:`TrainingError` naming ``where`` (e.g. "update 12") and the quantity."""
    name = non_finite_metric(metrics, names, nan_allowed)
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
