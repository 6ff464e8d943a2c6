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


def jaxrl_seeds_side(algorithm: str, config: Any, num_seeds: int, evaluations: dict[str, bool]) -> dict:
    """jaxrl's side of a peer comparison: ``num_seeds`` seeds of ``config`` vmapped in the device loop, then
    each seed's final policy on 20 fresh episodes (seed ``10_000 + index``) once per entry of ``evaluations``
    (result key -> deterministic), the mean of each seed's last 10 training records, compile and training
    seconds and the aggregate SPS."""
    import numpy as np

    import jaxrl

    result = jaxrl.run_device(algorithm, config, num_seeds=num_seeds)
    side = {key: [jaxrl.evaluate(algorithm, result.seed_state(index), episodes=20, seed=10_000 + index,
                                 deterministic=deterministic)["mean_return"] for index in range(num_seeds)]
            for key, deterministic in evaluations.items()}
    side["final_training_returns"] = np.nanmean(np.asarray(result.metrics["episodic_return"])[:, -10:],
                                                axis=1).tolist()
    summary = result.summary
    return {**side, "compile_s": summary["compile_s"], "train_s": summary["train_s"], "sps": summary["aggregate_sps"]}


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
