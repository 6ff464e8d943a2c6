"""Machine, device and version facts stamped into every benchmark result file (see :mod:`jaxrl.bench`),
and what the benchmarks share. Peer scripts import it in their peer's Python, where jaxrl may not be
installed: jaxrl is imported only where it is used."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR, path: Path | None = None) -> Path:
    """Write ``{facts..., **payload}`` to ``results_dir/<name>__<device>__<date>.json`` (or over ``path``,
    a file this run wrote before)."""
    from jaxrl import bench

    return bench.write_result(name, payload, results_dir, path)


def run_peer_script(args: list[str], timeout_s: float | None = None) -> dict:
    """A peer's script in its own Python (``args``: the Python, the script, its flags): the JSON of its
    last stdout line, or ``{"error": its last stderr line}`` where it failed."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_then_run(function: Any, *args: Any) -> tuple[Any, float, float]:
    """``jax.jit(function)`` compiled ahead of time for ``args`` (tracing included), then called once:
    ``(output, compile_s, run_s)``."""
    import time

    import jax

    start = time.perf_counter()
    compiled = jax.jit(function).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    output = jax.block_until_ready(compiled(*args))
    return output, compile_s, time.perf_counter() - start


FORCE_HELP = ("override a backend choice of jaxrl.core.platform for this run, NAME=on|off|INT (e.g. "
              "project_inputs_first=on, recurrent_scan_unroll=16); repeatable")


def force_platform_choices(choices: list[str]) -> dict[str, bool | int]:
    """Apply ``NAME=VALUE`` overrides of :mod:`jaxrl.core.platform`'s choices (``on``/``off`` or an
    integer), so that one machine can time both sides of a choice; returns them for the result file."""
    from jaxrl.core import platform

    forced: dict[str, bool | int] = {}
    for choice in choices:
        name, _, value = choice.partition("=")
        if not callable(getattr(platform, name, None)) or not value:
            raise SystemExit(f"--force {choice!r}: expected NAME=VALUE with NAME a function of jaxrl.core.platform")
        forced[name] = {"on": True, "off": False}.get(value) if value in ("on", "off") else int(value)
        setattr(platform, name, lambda *_, value=forced[name]: value)
    return forced
