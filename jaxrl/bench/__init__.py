"""Throughput matrix: algorithm x env backend x num_envs, on whatever devices JAX sees.

    jaxrl bench --quick                       # a small matrix, under 2 minutes on a 2-core CPU
    jaxrl bench                               # the full matrix
    jaxrl bench --cells ppo-mlp:sync:8 sac:device:64

Every cell runs in a fresh process (``python -m jaxrl.bench --cell ...``), so its
peak host memory is its own and no compile cache carries over. In that process,
one after the other:

Rates are the median call's after a warm-up call, over at least 0.3 s (``--quick``) or 1 s.

* ``env_sps``:   the env alone, stepped with random actions (host: the gymnasium vector
                 env; device: the vmapped JAX env inside one jitted scan);
* ``policy_sps``: the acting loop's per-step policy call alone, on fixed observations with
                 the actions fetched to the host (host backends);
* ``act_sps``:   env + the jitted policy, no learning; a host step runs the policy and then
                 the env, so ``act_sps`` is at most ``act_bound_sps = 1 / (1/env_sps +
                 1/policy_sps)``, and ``act_over_bound`` says how close the loop comes;
* ``train_sps``: the real training loop after its first update/record (compilation
                 excluded; ``compile_s`` is the first update's extra time -- the policy was
                 compiled by the act measurement -- or the device loop's ahead-of-time compile);
* ``update_sps``: (PPO, host) the training run's compiled update alone on one rollout, in
                 env steps of data per second; training alternates rollout and update, so
                 ``train_sps`` is at most ``train_bound_sps = 1 / (1/act_sps + 1/update_sps)``;
* ``peak_rss_mb`` (the process's high-water mark) and, where the backend reports it,
  ``peak_device_mb``.

Backends: ``sync``, ``async`` and ``vector_entry_point`` (gymnasium, host loop),
``envpool`` (envpool's C++ vector env in the host loop, when installed) and ``device``
(the device loop on the env's JAX version). PPO runs on CartPole-v1
(``phys2d/CartPole-v1`` on the device), DDPG/TD3/SAC on Pendulum-v1 (``phys2d/Pendulum-v0``).
``ppo-atari`` and ``dqn-atari`` run their Atari presets on ``ALE/Breakout-v5`` (pixels, a conv
torso; host backends ``sync``, ``async`` and ``envpool`` only, with the ``atari`` extra installed):
there an env step takes ~0.6 ms and the conv update, not the env, sets the training rate.
Results: ``benchmarks/results/throughput__<device>__<date>.json`` with machine, CPU,
device and versions; ``benchmarks/report.py`` merges such files into one table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

MATRIX_ALGORITHMS = ("ppo-mlp", "ppo-lstm", "ddpg", "td3", "sac")
ATARI_ALGORITHMS = ("ppo-atari", "dqn-atari")  # the Atari presets, on the host backends below
ATARI_BACKENDS = ("sync", "async", "envpool")  # ALE has no JAX version; its vector entry point skips the preset
ALGORITHMS = (*MATRIX_ALGORITHMS, "ppo-gru", *ATARI_ALGORITHMS)  # ppo-gru: --cells only
BACKENDS = ("sync", "async", "vector_entry_point", "envpool", "device")
HOST_ENVS = {"ppo": "CartPole-v1", "off": "Pendulum-v1", "atari": "ALE/Breakout-v5"}
DEVICE_ENVS = {"ppo": "phys2d/CartPole-v1", "off": "phys2d/Pendulum-v0"}
# Full matrix: num_envs per backend (async stops at 64: one process per env).
FULL_NUM_ENVS = {"sync": (1, 8, 64, 256), "async": (8, 64), "vector_entry_point": (8, 64, 256, 1024),
                 "envpool": (8, 64, 256, 1024), "device": (8, 64, 256, 1024)}
# Atari cells of the full matrix (where ale-py is installed; envpool's where it is): DQN's preset
# plays one env, PPO's eight.
ATARI_NUM_ENVS = {("ppo-atari", "sync"): 8, ("ppo-atari", "async"): 8, ("ppo-atari", "envpool"): 8,
                  ("dqn-atari", "sync"): 1, ("dqn-atari", "envpool"): 1}
# One cell per backend and per kind of agent; each device cell costs ~10 s of compilation.
QUICK_CELLS = ("ppo-mlp:sync:8", "ppo-mlp:vector_entry_point:64", "ppo-mlp:async:8", "ppo-mlp:device:64",
               "ppo-lstm:sync:8", "sac:sync:1")


class Cell(NamedTuple):
    algorithm: str  # one of ALGORITHMS
    backend: str  # one of BACKENDS
    num_envs: int

    @classmethod
    def parse(cls, text: str) -> Cell:
        """``"ALGORITHM:BACKEND:NUM_ENVS"``; ``ValueError`` naming the bad part."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"cell {text!r} must be ALGORITHM:BACKEND:NUM_ENVS, e.g. ppo-mlp:sync:8")
        from jaxrl.config import not_one_of  # here: this module stays importable without JAX

        algorithm, backend, num_envs = parts
        if algorithm not in ALGORITHMS:
            raise ValueError(f"cell {text!r}: {not_one_of('algorithm', algorithm, ALGORITHMS)}")
        if backend not in BACKENDS:
            raise ValueError(f"cell {text!r}: {not_one_of('backend', backend, BACKENDS)}")
        if algorithm in ATARI_ALGORITHMS and backend not in ATARI_BACKENDS:
            raise ValueError(f"cell {text!r}: {not_one_of(f'the backend of {algorithm}', backend, ATARI_BACKENDS)}")
        if not num_envs.isdigit() or int(num_envs) < 1:
            raise ValueError(f"cell {text!r}: num_envs must be a positive integer")
        return cls(algorithm, backend, int(num_envs))

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.backend}:{self.num_envs}"


def full_matrix() -> list[Cell]:
    """Every sensible cell; ``envpool`` only where it is installed (an optional extra), Atari only
    where ale-py is."""
    import importlib.util

    installed = {name: importlib.util.find_spec(name) is not None for name in ("envpool", "ale_py")}
    cells = []
    for algorithm in MATRIX_ALGORITHMS:
        for backend, sizes in FULL_NUM_ENVS.items():
            for num_envs in sizes:
                if algorithm in ("ddpg", "td3", "sac") and num_envs > 64:
                    continue  # one gradient step per vector step: more envs only starve the learner
                if backend == "vector_entry_point" and not algorithm.startswith("ppo"):
                    continue  # gymnasium's Pendulum-v1 has no vector entry point
                if backend == "envpool" and not installed["envpool"]:
                    continue
                cells.append(Cell(algorithm, backend, num_envs))
    if installed["ale_py"]:
        cells += [Cell(algorithm, backend, num_envs) for (algorithm, backend), num_envs in ATARI_NUM_ENVS.items()
                  if backend != "envpool" or installed["envpool"]]
    return cells


# --- the matrix: one subprocess per cell, a table, a result file ---------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment_facts() -> dict[str, Any]:
    """Machine, CPU, device and versions, stamped into every result file."""
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


def write_result(name: str, payload: dict[str, Any], results_dir: Path, path: Path | None = None) -> Path:
    """Write ``{facts..., **payload}`` to ``results_dir/<name>__<device>__<date>.json`` (or over ``path``,
    a file this run wrote before), atomically: a reader never sees half a file."""
    facts = environment_facts()
    if path is None:
        results_dir.mkdir(parents=True, exist_ok=True)
        stamp = facts["date"][:19].replace(":", "").replace("-", "")
        device = facts["device_kind"].replace(" ", "_").replace("/", "_")
        path = results_dir / f"{name}__{device}__{stamp}.json"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({**facts, **payload}, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def run_cell_subprocess(cell: Cell, quick: bool, timeout_s: float = 600.0) -> dict[str, Any]:
    """Measure ``cell`` in a fresh Python process; a failure becomes a row with ``error``."""
    command = [sys.executable, "-m", "jaxrl.bench", "--measure-cell", str(cell)] + (["--quick"] if quick else [])
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**cell._asdict(), "error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {**cell._asdict(), "error": lines[-1] if lines else f"exit code {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# (row key, title, width, number format; None: text, left-aligned)
COLUMNS = (("algorithm", "algorithm", 10, None), ("backend", "backend", 19, None), ("num_envs", "envs", 6, "d"),
           ("env_sps", "env SPS", 11, ",.0f"), ("policy_sps", "policy SPS", 12, ",.0f"),
           ("act_sps", "act SPS", 11, ",.0f"), ("update_sps", "update SPS", 12, ",.0f"),
           ("train_sps", "train SPS", 11, ",.0f"), ("act_over_env", "act/env", 9, ".2f"),
           ("train_over_act", "train/act", 10, ".2f"), ("act_over_bound", "act/bnd", 9, ".2f"),
           ("train_over_bound", "train/bnd", 10, ".2f"), ("compile_s", "compile s", 10, ".1f"),
           ("peak_rss_mb", "RSS MB", 9, ",.0f"))


def table_header() -> str:
    return "".join(f"{title:<{width}}" if fmt is None else f"{title:>{width}}" for _, title, width, fmt in COLUMNS)


def format_row(row: dict[str, Any]) -> str:
    """One table line; a failed cell shows its error after the cell's name."""
    if "error" in row:
        return f"{row['algorithm']:<10}{row['backend']:<19}{row['num_envs']:>6}  error: {row['error']}"
    cells = []
    for key, _, width, fmt in COLUMNS:
        value = row.get(key)
        if fmt is None:
            cells.append(f"{value:<{width}}")
        else:
            cells.append(f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}")
    return "".join(cells)


def default_results_dir() -> Path:
    """``benchmarks/results`` when run from a jaxrl checkout (it exists there), else the current directory."""
    in_checkout = Path("benchmarks/results")
    return in_checkout if in_checkout.is_dir() else Path(".")


def main(argv: list[str] | None = None) -> int:
    from jaxrl.cli import OneLineErrorParser  # imported here: the CLI imports this module when asked for bench

    parser = OneLineErrorParser(prog="jaxrl bench", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"the cells {', '.join(QUICK_CELLS)}, short runs")
    parser.add_argument("--cells", nargs="+", default=None, help="ALGORITHM:BACKEND:NUM_ENVS ... (default: matrix)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where the JSON goes (default: benchmarks/results/ inside a jaxrl checkout, else the "
                             "current directory)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--measure-cell", default=None, help=argparse.SUPPRESS)  # the per-cell subprocess
    args = parser.parse_args(argv)
    if args.measure_cell is not None:
        from jaxrl.bench.cells import measure_cell

        print(json.dumps(measure_cell(Cell.parse(args.measure_cell), args.quick)))
        return 0
    try:
        cells = [Cell.parse(text) for text in args.cells] if args.cells else \
            [Cell.parse(text) for text in QUICK_CELLS] if args.quick else full_matrix()
    except ValueError as err:
        parser.error(str(err))
    import jax

    results_dir = args.results_dir or default_results_dir()
    if not args.no_write:
        print(f"results: {results_dir.resolve()}", flush=True)
    print(f"device: {jax.devices()[0].device_kind} x {len(jax.devices())}\n{table_header()}", flush=True)
    rows, start, path = [], time.perf_counter(), None
    for cell in cells:
        rows.append(run_cell_subprocess(cell, args.quick))
        print(format_row(rows[-1]), flush=True)
        if not args.no_write:  # rewritten after every cell: an interrupted matrix keeps what it measured
            payload = {"benchmark": "throughput", "quick": args.quick, "cells": [str(c) for c in cells],
                       "complete": len(rows) == len(cells), "rows": rows}
            path = write_result("throughput", payload, results_dir, path)
    print(f"{len(cells)} cells in {time.perf_counter() - start:.0f} s")
    if path is not None:
        print("wrote", path)
    return 1 if any("error" in row for row in rows) else 0

