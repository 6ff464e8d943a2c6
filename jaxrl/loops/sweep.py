"""Hyper-parameter sweeps from the CLI: a grid of vmappable config values x seeds, trained in ONE
compiled call of the device loop (``jit(vmap(vmap(train)))``), summarised with the mean and the
interquartile mean (with a bootstrap interval) of the seeds' final returns.

``jaxrl train ppo --env phys2d/CartPole-v1 --loop device --sweep learning_rate=1e-4,3e-4,1e-3 --num-seeds 8``
writes ``DIR/point_<i>__<field>=<value>/`` (a device run: config, metrics, results, ``seed_<s>/``
checkpoints) per grid point, and ``DIR/sweep.json``, ``sweep.md`` and ``sweep.png`` (return vs value).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.config import SEED_LIMIT, unset_structural_fields, vmappable_fields
from jaxrl.core.aggregate import summarize_returns
from jaxrl.core.platform import seed_batched_lowering
from jaxrl.io.config_file import save_config
from jaxrl.io.files import writing
from jaxrl.io.metrics import MetricsWriter
from jaxrl.io.run_dir import claim_for_fresh_run, release_lock
from jaxrl.loops.device import make_program, program_to_train
from jaxrl.loops.device_run import final_returns, metric_records, seed_keys, write_seed_runs


class SweepResult(NamedTuple):
    points: list[dict[str, float]]  # the grid, one dict of swept values per point
    rows: list[dict[str, Any]]  # per point: its values, mean/std/IQM/interval of final returns, each seed's return
    metrics: dict[str, np.ndarray]  # name -> [points, seeds, iterations]
    compile_s: float
    train_s: float


def parse_sweep(texts: list[str]) -> dict[str, list[float]]:
    """``["learning_rate=1e-4,3e-4", "gamma=0.99,0.995"]`` -> ``{name: [values]}``; one-line ``ValueError``."""
    sweep: dict[str, list[float]] = {}
    for text in texts:
        name, _, values = text.partition("=")
        name = name.strip().replace("-", "_")
        try:
            parsed = [float(value) for value in values.split(",") if value.strip()]
        except ValueError:
            parsed = []
        if not name or not parsed:
            raise ValueError(f"--sweep {text!r}: expected FIELD=V1,V2,... with numbers, e.g. learning_rate=1e-4,3e-4")
        if name in sweep:
            raise ValueError(f"--sweep names {name} twice")
        sweep[name] = parsed
    return sweep


def checked_sweep_points(config: Any, algorithm: str, sweep: dict[str, list[float]]) -> list[dict[str, float]]:
    """The grid of ``sweep`` (``sweep_points``) once ``config`` is known to run as one sweep: a one-line
    ValueError otherwise, before anything is compiled."""
    config.validate()
    # the grid runs as one compiled call: nothing can stop or evaluate it part way
    per_piece = [name for name in ("target_return", "patience", "target_eval_return")
                 if getattr(config, name) is not None]
    if per_piece or config.eval_every:
        raise ValueError(f"a sweep trains its grid in one compiled call, so {', '.join(per_piece or ['eval_every'])} "
                         "cannot act part way; evaluate the points' runs afterwards with jaxrl eval")
    return sweep_points(config, algorithm, sweep)


def sweep_points(config: Any, algorithm: str, sweep: dict[str, list[float]]) -> list[dict[str, float]]:
    """The grid (cartesian product) of ``sweep``; each point's config is validated. Only fields the
    agent reads from ``state.hparams`` can differ inside one compiled call."""
    allowed = vmappable_fields(config)
    for name in sweep:
        if name not in allowed:
            raise ValueError(f"--sweep {name}: {algorithm} can sweep only these fields in one compiled call: "
                             f"{', '.join(allowed)}")
    points = [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())]
    for point in points:
        dataclasses.replace(config, **point).validate()
    return points


def point_name(index: int, point: dict[str, float]) -> str:
    return f"point_{index}__" + "__".join(f"{name}={value:g}" for name, value in point.items())


def run_sweep(algorithm: str, config: Any, sweep: dict[str, list[float]], num_seeds: int,
              run_dir: str | Path | None = None, overwrite: bool = False) -> SweepResult:
    """Train every grid point of ``sweep`` on ``num_seeds`` seeds (``config.seed ...``) in one call."""
    points = checked_sweep_points(config, algorithm, sweep)
    # A swept field whose None would build the program without it gets the first point's value.
    config = dataclasses.replace(config, **{name: points[0][name] for name in unset_structural_fields(config, sweep)})
    seeds = config.seed + np.arange(num_seeds)
    if seeds[-1] >= SEED_LIMIT:
        raise ValueError(f"seeds {config.seed}..{seeds[-1]} pass 2**32 - 1")
    run_dir = Path(run_dir) if run_dir is not None else None
    lock = claim_for_fresh_run(run_dir, algorithm, overwrite) if run_dir is not None else None
    try:
        program = make_program(algorithm, config)
        train = jax.jit(jax.vmap(jax.vmap(program_to_train(program), in_axes=(0, None)), in_axes=(None, 0)))
        keys = seed_keys(seeds)
        hparams = {name: jnp.asarray([point[name] for point in points], jnp.float32) for name in sweep}
        start = time.perf_counter()
        with seed_batched_lowering():
            compiled = train.lower(keys, hparams).compile()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(keys, hparams))
        train_s = time.perf_counter() - start
        metrics = {name: np.asarray(value) for name, value in out.metrics.items()}
        rows = [_row(point, seeds, metrics["episodic_return"][index]) for index, point in enumerate(points)]
        result = SweepResult(points, rows, metrics, compile_s, train_s)
        if run_dir is not None:
            _write_sweep(run_dir, algorithm, config, seeds, program, out.state, result)
    finally:
        release_lock(lock)
    return result


def _row(point: dict[str, float], seeds: np.ndarray, returns: np.ndarray) -> dict[str, Any]:
    finals = final_returns(returns)
    return {**point, **summarize_returns(finals),
            "final_returns": {int(seed): None if np.isnan(r) else float(r) for seed, r in zip(seeds, finals)}}


def _write_sweep(run_dir: Path, algorithm: str, config: Any, seeds: np.ndarray, program: Any, states: Any,
                 result: SweepResult) -> None:
    """A device run per point, then sweep.json, sweep.md and sweep.png."""
    env_steps = program.num_iterations * program.steps_per_iteration
    for index, point in enumerate(result.points):
        point_dir = run_dir / point_name(index, point)
        point_config = dataclasses.replace(config, **point)
        point_dir.mkdir(parents=True, exist_ok=True)
        save_config(point_config, point_dir / "config.json", algorithm, loop="device", num_seeds=len(seeds))
        point_metrics = {name: values[index] for name, values in result.metrics.items()}
        with MetricsWriter(point_dir, seeds=seeds.tolist()) as writer:
            for record in metric_records(point_metrics, program.unit, 0):
                writer.write(record)
        point_states = jax.tree.map(lambda leaf, i=index: leaf[i], states)
        write_seed_runs(point_dir, algorithm, point_config, seeds, point_states,
                        {**result.rows[index], "algorithm": algorithm, "env": config.env, "loop": "device",
                         "seeds": seeds.tolist(), "env_steps_per_seed": env_steps})
    summary = {"algorithm": algorithm, "env": config.env, "seeds": seeds.tolist(), "env_steps_per_seed": env_steps,
               "swept": list(result.points[0]), "compile_s": result.compile_s, "train_s": result.train_s,
               "points": result.rows}
    with writing(run_dir / "sweep.json"):
        (run_dir / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n")
        (run_dir / "sweep.md").write_text(sweep_table(result.rows, list(result.points[0])) + "\n")
    plot_sweep(result.rows, list(result.points[0]), run_dir / "sweep.png", f"{algorithm} on {config.env}")


def sweep_table(rows: list[dict[str, Any]], swept: list[str]) -> str:
    """A markdown table: the swept values, then mean ± std, IQM and its 95% interval of the final returns."""
    number = lambda value: "-" if value is None else f"{value:.1f}"  # noqa: E731
    lines = ["| " + " | ".join(swept) + " | mean ± std | IQM | IQM 95% CI | seeds finished |",
             "|" + "---|" * (len(swept) + 4)]
    for row in rows:
        interval = "-" if row["iqm_ci"] is None else f"[{row['iqm_ci'][0]:.1f}, {row['iqm_ci'][1]:.1f}]"
        spread = "-" if row["mean"] is None else f"{row['mean']:.1f} ± {row['std']:.1f}"
        lines.append("| " + " | ".join(f"{row[name]:g}" for name in swept)
                     + f" | {spread} | {number(row['iqm'])} | {interval} | {row['seeds_finished']} |")
    return "\n".join(lines)


def plot_sweep(rows: list[dict[str, Any]], swept: list[str], out: Path, title: str) -> Path:
    """IQM (with its interval) and mean of the final return against the swept value (log x for
    positive values spanning 10x); against the point index for a grid over several fields."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept = [row for row in rows if row["iqm"] is not None]
    figure, axis = plt.subplots(figsize=(5, 3.5))
    if len(swept) == 1:
        x = np.array([row[swept[0]] for row in kept], np.float64)
        axis.set_xlabel(swept[0])
        if len(x) and (x > 0).all() and x.max() >= 10 * x.min():
            axis.set_xscale("log")
    else:
        x = np.arange(len(kept), dtype=np.float64)
        axis.set_xticks(x, ["\n".join(f"{name}={row[name]:g}" for name in swept) for row in kept], fontsize=7)
    iqm = np.array([row["iqm"] for row in kept])
    low, high = (np.array([row["iqm_ci"][i] for row in kept]) for i in (0, 1))
    axis.errorbar(x, iqm, yerr=[iqm - low, high - iqm], marker="o", capsize=3, label="IQM, 95% CI")
    axis.plot(x, [row["mean"] for row in kept], "x", label="mean")
    axis.set_ylabel("final episodic return")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
