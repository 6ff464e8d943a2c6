"""Learning-curve PNG from a run's ``metrics.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jaxrl.io.metrics import read_metrics

PANELS = ("episodic_return", "policy_loss", "value_loss", "entropy")
# Off-policy agents log these instead of the PPO losses (first one present wins).
ALTERNATIVES = {"policy_loss": ("actor_loss",), "value_loss": ("critic_loss",), "entropy": ("alpha", "q_values")}


def as_curve(points: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """``(env steps, values)`` of ``(env step, value)`` points; ``([], [])`` for none."""
    return tuple(map(list, zip(*points))) if points else ([], [])


def seed_curves(records: list[dict[str, Any]]) -> list[tuple[list[int], list[float]]]:
    """Each seed's ``(env steps, episodic_return)`` of a device run of several seeds (its records'
    ``episodic_return_per_seed``, records without a finished episode left out); [] for one seed."""
    per_seed = [r["episodic_return_per_seed"] for r in records if "episodic_return_per_seed" in r]
    num_seeds = len(per_seed[0]) if per_seed else 0
    if num_seeds < 2:
        return []
    curves = []
    for index in range(num_seeds):
        points = [(r["env_steps"], r["episodic_return_per_seed"][index]) for r in records
                  if r.get("episodic_return_per_seed") and r["episodic_return_per_seed"][index] is not None]
        curves.append(as_curve(points))
    return curves


def plot_run(run_dir: Path, out: Path | None = None) -> Path:
    """Plot return (and the evaluations during training, if any) and losses against env steps; returns
    the PNG path (default ``run_dir/learning_curve.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"{Path(run_dir) / 'metrics.jsonl'} holds no records to plot")
    out = Path(out) if out else Path(run_dir) / "learning_curve.png"
    per_seed = seed_curves(records)  # [] for one seed
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for axis, name in zip(axes, PANELS):
        for candidate in (name, *ALTERNATIVES.get(name, ())):
            if any(r.get(candidate) is not None for r in records):
                name = candidate
                break
        steps, values = return_curve(records, name)
        seeds_here = per_seed if name == "episodic_return" else []
        for index, (seed_steps, seed_values) in enumerate(seeds_here):  # a device run of several seeds: each thin
            axis.plot(seed_steps, seed_values, linewidth=0.8, alpha=0.4, color="tab:blue",
                      label=f"{len(seeds_here)} seeds, each" if index == 0 else None)
        if steps:
            axis.plot(steps, values, label=f"mean of {len(seeds_here)} seeds" if seeds_here else "training (exploring)",
                      color="tab:blue", linewidth=2 if seeds_here else 1.5)
            if seeds_here:
                axis.legend(fontsize=7)
        evaluations = return_curve(records, "eval_return")
        if name == "episodic_return" and evaluations[0]:  # --eval-every: the deterministic policy's returns
            axis.plot(*evaluations, "o-", markersize=3, label="evaluation (deterministic)")
            axis.legend(fontsize=7)
        axis.set_title(name)
        axis.set_xlabel("env steps")
        axis.grid(alpha=0.3)
    seeds = f" ({len(per_seed)} seeds; training returns while exploring)" if per_seed else ""
    figure.suptitle(f"{Path(run_dir).name}{seeds}")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


def return_curve(records: list[dict[str, Any]], name: str) -> tuple[list[int], list[float]]:
    """``(env steps, values)`` of ``name`` over a run's records, records without a value left out (a
    device run of several seeds: their mean, as its records hold it)."""
    return as_curve([(r["env_steps"], r[name]) for r in records if r.get(name) is not None])


def run_labels(run_dirs: list[Path]) -> dict[Path, str]:
    """Each run's legend label: the fewest trailing path parts that tell the runs apart (``a/seed_1`` and
    ``b/seed_1`` where their names alone would not)."""
    for depth in range(1, max(len(path.parts) for path in run_dirs) + 1):
        labels = {path: "/".join(path.parts[-depth:]) for path in run_dirs}
        if len(set(labels.values())) == len(run_dirs):
            return labels
    return {path: str(path) for path in run_dirs}


def plot_runs(run_dirs: list[Path], out: Path) -> Path:
    """Several runs' training returns in one panel (and their evaluations in a second, where any run
    has them), one line each, labelled by run directory: configs, algorithms or seeds side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {Path(run_dir): read_metrics(run_dir) for run_dir in run_dirs}
    empty = [str(run_dir) for run_dir, records in runs.items() if not records]
    if empty:
        raise ValueError(f"{empty[0]}/metrics.jsonl holds no records to plot")
    names = ["episodic_return"] + (["eval_return"] if any(r.get("eval_return") is not None
                                                          for records in runs.values() for r in records) else [])
    figure, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
    labels = run_labels(list(runs))
    for axis, name in zip(axes[0], names):
        for run_dir, records in runs.items():
            steps, values = return_curve(records, name)
            axis.plot(steps, values, "o-" if name == "eval_return" else "-", markersize=3, label=labels[run_dir])
        axis.set_title(f"{name} ({'deterministic evaluations' if name == 'eval_return' else 'training, exploring'})")
        axis.set_xlabel("env steps")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return Path(out)

