"""What stops a run on purpose: non-finite learner values, and Ctrl-C or SIGTERM at a safe point.

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
from typing import Any

from jaxrl.distributed import largest_over_processes


class TrainingError(RuntimeError):
    """Training produced something unusable (e.g. a non-finite loss)."""


class TrainingInterrupted(KeyboardInterrupt):
    """A stop signal ended the run at a safe point, after saving a checkpoint (the message says where);
    ``exit_code`` is the shell's for that signal (128 + its number: Ctrl-C 130, SIGTERM 143)."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_code = 128 + int(signum)


# What stops a run at its next safe point, saving first: Ctrl-C, and SIGTERM, which `kill`, Docker,
# Kubernetes and cluster schedulers send before they kill (SLURM at the time limit or on preemption, to
# every process of the job, KillWait seconds -- 30 by default -- before SIGKILL; `--signal=TERM@120` sends it
# 120 s before the limit)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_label(signum: int) -> str:
    """How the messages name a stop signal: "Ctrl-C" for SIGINT, else its name ("SIGTERM")."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


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
    """While active, the first stop signal (:data:`STOP_SIGNALS`: Ctrl-C, SIGTERM) only sets
    ``requested`` and ``signum``: the loop saves a checkpoint at its next safe point (after the
    current update; the device loop, after the current piece of its program) and raises
    :class:`TrainingInterrupted`. A second one raises ``KeyboardInterrupt`` at once, without saving.
    Outside the main thread (where signal handlers cannot be set) it does nothing and the signals
    act as usual."""

    def __init__(self, safe_point: str = "the current update") -> None:
        self.safe_point = safe_point  # where the loop stops, for the message
        self.requested = False
        self.signum: int = signal.SIGINT
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum
        label = signal_label(signum)
        print(f"\njaxrl: {label}: stopping after {self.safe_point} to save a checkpoint ({label} again: stop "
              "now, without saving)", file=sys.stderr)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def explains(self, error: Exception) -> bool:
        """Whether an env failure is this stop's doing: a stop was requested, or the env's worker was
        killed by a stop signal (one that reached it before this process: SLURM signals every process
        of a job), which then becomes the request. The loop then saves the state of its last complete
        update or step (the envs restart on resume anyway) instead of failing."""
        killed_by = getattr(error, "killed_by", None)
        if not self.requested and killed_by in STOP_SIGNALS:
            self.requested, self.signum = True, killed_by
        return self.requested

    def agreed(self) -> bool:
        """Whether a stop signal reached any process of the run; this process's request then takes
        that signal. A collective in a multi-process run (:func:`jaxrl.distributed.largest_over_processes`):
        the device loop asks it after each piece, so that every process saves and stops after the same
        piece, where one stopping alone would leave the others waiting in the next piece's collectives."""
        signum = largest_over_processes(self.signum if self.requested else 0)
        if signum:
            self.requested, self.signum = True, signum
        return self.requested
