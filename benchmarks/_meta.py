"""Machine, device and version facts stamped into every benchmark result file."""

from __future__ import annotations

import datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_facts() -> dict[str, Any]:
    import jax

    devices = jax.devices()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "device_kind": devices[0].device_kind,
        "device_platform": devices[0].platform,
        "device_count": len(devices),
        "versions": {p: _version(p) for p in ("jax", "jaxlib", "flax", "optax", "gymnasium", "numpy", "jaxrl")},
    }


def write_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``{facts..., **payload}`` to ``results_dir/<name>__<device>__<date>.json``."""
    facts = environment_facts()
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = facts["date"][:19].replace(":", "").replace("-", "")
    device = facts["device_kind"].replace(" ", "_").replace("/", "_")
    path = results_dir / f"{name}__{device}__{stamp}.json"
    path.write_text(json.dumps({**facts, **payload}, indent=2) + "\n")
    return path
