"""Learning-curve PNG from a run's ``metrics.jsonl``."""

from __future__ import annotations

from pathlib import Path

from jaxrl.io.metrics import read_metrics

PANELS = ("episodic_return", "policy_loss", "value_loss", "entropy")
# Off-policy agents log these instead of the PPO losses (first one present wins).
ALTERNATIVES = {"policy_loss": ("actor_loss",), "value_loss": ("critic_loss",), "entropy": ("alpha", "q_values")}


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
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for axis, name in zip(axes, PANELS):
        for candidate in (name, *ALTERNATIVES.get(name, ())):
            if any(r.get(candidate) is not None for r in records):
                name = candidate
                break
        points = [(r["env_steps"], r[name]) for r in records if r.get(name) is not None]
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values, label="training (exploring)")
        evaluations = [(r["env_steps"], r["eval_return"]) for r in records if r.get("eval_return") is not None]
        if name == "episodic_return" and evaluations:  # --eval-every: the deterministic policy's returns
            axis.plot(*zip(*evaluations), "o-", markersize=3, label="evaluation (deterministic)")
            axis.legend(fontsize=7)
        axis.set_title(name)
        axis.set_xlabel("env steps")
        axis.grid(alpha=0.3)
    figure.suptitle(str(Path(run_dir).name))
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
