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
TENSORBOARD_DIR = "tensorboard"


def _json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsWriter:
    """Appends metric records to ``run_dir`` (JSONL and TensorBoard)."""

    def __init__(self, run_dir: Path):
        from tensorboardX import SummaryWriter

        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / METRICS_FILE, "a", buffering=1)
        self._tensorboard = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), flush_secs=10)

    def write(self, record: dict[str, Any]) -> None:
        """``record`` must hold ``env_steps``; numeric entries go to TensorBoard as well."""
        self._jsonl.write(json.dumps({k: _json_safe(v) for k, v in record.items()}) + "\n")
        step = int(record["env_steps"])
        for name, value in record.items():
            if isinstance(value, (int, float)) and name != "env_steps" and math.isfinite(value):
                group = "charts" if name in ("episodic_return", "episodic_length", "sps") else "losses"
                self._tensorboard.add_scalar(f"{group}/{name}", value, step)

    def close(self) -> None:
        self._jsonl.close()
        self._tensorboard.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` (a torn last line from a crash is skipped)."""
    records = []
    path = Path(run_dir) / METRICS_FILE
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(run_dir: Path, unit: str, last_index: int) -> int:
    """Keep the records of ``metrics.jsonl`` with ``record[unit] <= last_index`` (and drop a torn
    line), so a resumed run continues without a gap or a duplicate. Rewritten atomically;
    returns the number of records kept."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return 0
    kept = [record for record in read_metrics(run_dir) if record.get(unit, 0) <= last_index]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(record) + "\n" for record in kept))
    tmp.replace(path)
    return len(kept)


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
