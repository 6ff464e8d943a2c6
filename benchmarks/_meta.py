"""Machine, device and version facts stamped into every benchmark result file (see :mod:`jaxrl.bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jaxrl import bench

RESULTS_DIR = Path(__file__).resolve().parent / "results"
environment_facts = bench.environment_facts


def write_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR, path: Path | None = None) -> Path:
    """Write ``{facts..., **payload}`` to ``results_dir/<name>__<device>__<date>.json`` (or over ``path``,
    a file this run wrote before)."""
    return bench.write_result(name, payload, results_dir, path)
