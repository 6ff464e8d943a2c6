"""Per-update metrics: one JSON line each in ``metrics.jsonl``, TensorBoard scalars, a progress bar.

TensorBoard files come from tensorboardX (small, no TensorFlow), written synchronously: its
``SummaryWriter`` writes from a background thread, so a full disk there printed thread tracebacks
instead of one error naming the file. Tags follow CleanRL's layout (:func:`tensorboard_tag`).
The bar comes from tqdm.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from jaxrl.io.files import RunFileError, writing

METRICS_FILE = "metrics.jsonl"
TIMING_FILE = "timing.jsonl"  # wall-clock columns, kept apart so metrics.jsonl is reproducible bit for bit
TIMING_KEYS = ("time_s", "sps")
TENSORBOARD_DIR = "tensorboard"
# Optimisation statistics that CleanRL files under losses/ although they are not losses.
LOSS_STATISTICS = frozenset({"entropy", "approx_kl", "clip_fraction", "explained_variance", "grad_norm",
                             "q_values", "alpha"})
NOT_CHARTED = frozenset({"update", "record", "env_steps", "time_s"})  # the x axes and wall-clock
PER_SEED = "_per_seed"  # a record's list of one value per seed (device runs: episodic_return_per_seed, ...)


def _json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def tensorboard_tag(name: str) -> str | None:
    """CleanRL's TensorBoard layout: ``losses/`` for losses and optimisation statistics,
    ``charts/`` for the rest (returns, ``SPS``, learning rate, epsilon, ...); None for the x axes."""
    if name in NOT_CHARTED:
        return None
    if "loss" in name or name in LOSS_STATISTICS:
        return f"losses/{name}"
    return "charts/SPS" if name == "sps" else f"charts/{name}"


def per_seed_scalars(record: dict[str, Any], seeds: Sequence[int]) -> dict[str, float]:
    """The finite entries of a record's ``<name>_per_seed`` lists (a device run of several
    ``seeds``) as ``charts/<name>/seed_<s>`` scalars, so TensorBoard and W&B show each seed's curve
    beside the mean; {} for one seed."""
    if len(seeds) < 2:
        return {}
    return {f"charts/{name.removesuffix(PER_SEED)}/seed_{seed}": float(value)
            for name, values in record.items() if name.endswith(PER_SEED) and isinstance(values, list)
            for seed, value in zip(seeds, values) if value is not None and math.isfinite(value)}


def hyperparameter_table(values: dict[str, Any]) -> str:
    """``values`` as a markdown table of name and value (JSON), one row each in their order."""
    rows = "\n".join(f"|{name}|{json.dumps(_json_safe(value))}|" for name, value in values.items())
    return f"|param|value|\n|-|-|\n{rows}"


class _TensorBoardFile:
    """One TensorBoard event file, written in the caller's thread (errors surface here)."""

    FLUSH_EVERY_S = 1.0  # at most one flush a second: tensorboardX's flush fsyncs the file

    def __init__(self, folder: Path):
        from tensorboardX.event_file_writer import EventsWriter

        folder.mkdir(parents=True, exist_ok=True)
        # tensorboardX names the file by the second and the host and truncates one of that name: a resume in
        # the same second as the run's start wiped the run's events. The nanoseconds keep each file apart.
        self._events = EventsWriter(str(folder / "events"), filename_suffix=f".{time.time_ns() % 10**9:09d}")
        self.path = self._events._file_name  # only for error messages
        self._flushed_at = -math.inf

    def add_scalars(self, scalars: dict[str, float], step: int) -> None:
        """All of ``scalars`` as one event (one summary with a value per tag, as TensorFlow's merged
        summaries are written). With an event per tag and a flush (fsync) per record, a record of 14
        scalars took 0.55 ms instead of 0.10 ms: 0.2 s of the PPO CartPole device preset's 390
        records, written while the device waits between pieces."""
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items()]
        self._events.write_event(Event(summary=Summary(value=values), step=step, wall_time=time.time()))
        now = time.monotonic()
        if now - self._flushed_at >= self.FLUSH_EVERY_S:  # TensorBoard sees the run live; close flushes the rest
            self._events.flush()
            self._flushed_at = now

    def add_text(self, tag: str, markdown: str) -> None:
        """``markdown`` under TensorBoard's Text tab as ``tag``, at step 0."""
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import text

        self._events.write_event(Event(summary=text(tag, markdown), step=0, wall_time=time.time()))

    def close(self) -> None:
        self._events.close()


class MetricsWriter:
    """Appends metric records to ``run_dir``: ``metrics.jsonl`` (everything but wall-clock time),
    ``timing.jsonl`` (the record's first key, ``env_steps`` and the :data:`TIMING_KEYS`) and
    TensorBoard (every finite number). A failed write raises :class:`RunFileError` naming the file;
    after one, closing does not raise again."""

    def __init__(self, run_dir: Path, tracker: Any = None, seeds: Sequence[int] = (),
                 hyperparameters: dict[str, Any] | None = None):
        """``tracker``: anything with ``log(scalars, env_steps)`` and ``close()`` (e.g. the W&B
        tracker of ``--track``) that gets the TensorBoard scalars too. ``seeds``: a device run's,
        whose per-seed values are charted one tag per seed (:func:`per_seed_scalars`).
        ``hyperparameters``: written once as a table under TensorBoard's Text tab, as CleanRL does."""
        self.run_dir, self.tracker, self.seeds = Path(run_dir), tracker, tuple(seeds)
        self._failed = False
        with writing(self.run_dir):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(self.run_dir / METRICS_FILE, "a", buffering=1)
            self._timing = open(self.run_dir / TIMING_FILE, "a", buffering=1)
        with writing(self.run_dir / TENSORBOARD_DIR):
            self._tensorboard = _TensorBoardFile(self.run_dir / TENSORBOARD_DIR)
            if hyperparameters:
                self._tensorboard.add_text("hyperparameters", hyperparameter_table(hyperparameters))

    def write(self, record: dict[str, Any]) -> None:
        """``record`` must hold ``env_steps``; numeric entries go to TensorBoard as well."""
        try:
            self._write(record)
        except RunFileError:
            self._failed = True
            raise

    def _write(self, record: dict[str, Any]) -> None:
        with writing(self._jsonl.name):
            self._jsonl.write(json.dumps({k: _json_safe(v) for k, v in record.items() if k not in TIMING_KEYS})
                              + "\n")
        if any(key in record for key in TIMING_KEYS):
            index_key = next(iter(record))
            timing = {index_key: record[index_key], "env_steps": record["env_steps"],
                      **{key: record[key] for key in TIMING_KEYS if key in record}}
            with writing(self._timing.name):
                self._timing.write(json.dumps(timing) + "\n")
        tagged = ((tensorboard_tag(name), value) for name, value in record.items()
                  if isinstance(value, (int, float)) and math.isfinite(value))
        scalars = {tag: float(value) for tag, value in tagged if tag is not None}
        scalars.update(per_seed_scalars(record, self.seeds))
        with writing(self._tensorboard.path):
            self._tensorboard.add_scalars(scalars, int(record["env_steps"]))
        if self.tracker is not None:
            self.tracker.log(scalars, int(record["env_steps"]))

    def close(self) -> None:
        for handle in (self._jsonl, self._timing, self._tensorboard, self.tracker):
            if handle is None:
                continue
            try:
                handle.close()
            except OSError:
                if not self._failed:  # the first failure was already reported; do not bury it
                    raise

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_metrics(run_dir: Path, name: str = METRICS_FILE) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` (or ``timing.jsonl``); a torn last line from a crash is skipped."""
    records = []
    path = Path(run_dir) / name
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(run_dir: Path, unit: str, last_index: int) -> None:
    """Keep the records of ``metrics.jsonl`` and ``timing.jsonl`` with ``record[unit] <= last_index``
    (and drop a torn line), so a resumed run continues without a gap or a duplicate. Each file is
    rewritten atomically."""
    for name in (METRICS_FILE, TIMING_FILE):
        path = Path(run_dir) / name
        if path.is_file():
            kept = [record for record in read_metrics(run_dir, name) if record.get(unit, 0) <= last_index]
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text("".join(json.dumps(record) + "\n" for record in kept))
            tmp.replace(path)


class Progress:
    """A tqdm bar over env steps with one rate (``sps``: env steps per second over all seeds) and
    the recent mean return. The bar starts at the first :meth:`advance`, so compilation, which
    happens before it, does not enter its time-remaining estimate."""

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"

    def __init__(self, total_steps: int, enabled: bool, bar: bool = True):
        self.total_steps, self.enabled, self.show_bar = total_steps, enabled, bar
        self._bar: tqdm | None = None

    def advance(self, env_steps: int, sps: float, episodic_return: float | None) -> None:
        if not (self.enabled and self.show_bar):
            return
        if self._bar is None:
            self._bar = tqdm(total=self.total_steps, unit="step", unit_scale=True, dynamic_ncols=True,
                             bar_format=self.BAR_FORMAT)
        self._bar.update(env_steps - self._bar.n)
        postfix = {"sps": f"{sps:,.0f}"}
        if episodic_return is not None:
            postfix["return"] = f"{episodic_return:.1f}"
        self._bar.set_postfix(postfix, refresh=False)

    def say(self, message: str) -> None:
        """A line on stderr (above the bar if one is shown); nothing when progress is off."""
        if self.enabled:
            tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
