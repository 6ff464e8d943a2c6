"""Per-update metrics: one JSON line each in ``metrics.jsonl``, TensorBoard scalars, a progress bar.

TensorBoard files come from tensorboardX (small, no TensorFlow); the bar from tqdm.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

METRICS_FILE = "metrics.jsonl"
TIMING_FILE = "timing.jsonl"  # wall-clock columns, kept apart so metrics.jsonl is reproducible bit for bit
TIMING_KEYS = ("time_s", "sps")
TENSORBOARD_DIR = "tensorboard"


def _json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsWriter:
    """Appends metric records to ``run_dir``: ``metrics.jsonl`` (everything but wall-clock time),
    ``timing.jsonl`` (the record's first key, ``env_steps`` and the :data:`TIMING_KEYS`) and
    TensorBoard (every finite number)."""

    def __init__(self, run_dir: Path):
        from tensorboardX import SummaryWriter

        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / METRICS_FILE, "a", buffering=1)
        self._timing = open(self.run_dir / TIMING_FILE, "a", buffering=1)
        self._tensorboard = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), flush_secs=10)

    def write(self, record: dict[str, Any]) -> None:
        """``record`` must hold ``env_steps``; numeric entries go to TensorBoard as well."""
        self._jsonl.write(json.dumps({k: _json_safe(v) for k, v in record.items() if k not in TIMING_KEYS}) + "\n")
        if any(key in record for key in TIMING_KEYS):
            index_key = next(iter(record))
            timing = {index_key: record[index_key], "env_steps": record["env_steps"],
                      **{key: record[key] for key in TIMING_KEYS if key in record}}
            self._timing.write(json.dumps(timing) + "\n")
        step = int(record["env_steps"])
        for name, value in record.items():
            if isinstance(value, (int, float)) and name != "env_steps" and math.isfinite(value):
                group = "charts" if name in ("episodic_return", "episodic_length", "sps") else "losses"
                self._tensorboard.add_scalar(f"{group}/{name}", value, step)

    def close(self) -> None:
        self._jsonl.close()
        self._timing.close()
        self._tensorboard.close()

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
    """A tqdm bar over env steps showing SPS and the recent mean return."""

    def __init__(self, total_steps: int, enabled: bool):
        self._bar = tqdm(total=total_steps, unit="step", unit_scale=True, disable=not enabled, dynamic_ncols=True)

    def advance(self, env_steps: int, sps: float, episodic_return: float | None) -> None:
        self._bar.update(env_steps - self._bar.n)
        postfix = {"sps": f"{sps:,.0f}"}
        if episodic_return is not None:
            postfix["return"] = f"{episodic_return:.1f}"
        self._bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self._bar.close()
