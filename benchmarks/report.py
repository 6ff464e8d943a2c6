"""Merge benchmark result files (any machines, any accelerators) into one report.

    python benchmarks/report.py                          # every file in benchmarks/results
    python benchmarks/report.py a.json b.json --out-dir /tmp/report

Writes to ``--out-dir`` (default ``benchmarks/results``):

* ``REPORT.md``: the throughput table (newest figure per device x algorithm x backend x
  num_envs), the peers' tables, time to solve, and the learning table (per task: seeds passed,
  mean evaluation return);
* ``throughput_<algorithm>.png``: training SPS vs num_envs per device and backend, with
  the env-alone rate of the same cells as a dashed ceiling;
* ``learning_curves.png``: return vs env steps per learning task, mean over seeds with
  the min-max spread shaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_minatar import minatar_peer_table
from report_solve import time_to_solve_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKEND_COLORS = {"sync": "C0", "async": "C1", "vector_entry_point": "C2", "device": "C3", "envpool": "C4"}


def _as_learning_task(data: dict[str, Any]) -> dict[str, Any]:
    """A ``benchmarks/device_learning.py`` result (seeds vmapped in one run) in the learning tasks'
    shape, so it joins the learning table's curves; ``vmapped_run`` keeps what only it has."""
    curves = [list(zip(data["curve_env_steps"], curve, strict=True)) for curve in data["curves"]]
    return {"task": data["task"], "env_steps": data["env_steps_per_seed"], "threshold": data["bar"],
            "seeds_passed": data["seeds_passed"], "seeds": len(data["seeds"]),
            "mean_eval_return": data["mean_eval_return"], "vmapped_run": data,
            "runs": [{"curve": [(s, r if r == r else None) for s, r in curve], "wall_clock_s": data["wall_s"]}
                     for curve in curves]}


Runs = list[dict[str, Any]]


def read_results(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Each result file's path and parsed content, read once for every table."""
    return [(path, json.loads(path.read_text())) for path in paths]


def load(results: list[tuple[Path, dict[str, Any]]]) -> tuple[Runs, Runs, Runs, Runs, Runs]:
    """``(throughput rows, learning tasks, peer runs, recurrent runs, Playground runs)`` from result files
    (:func:`read_results`);
    each gets its file's device and date. Peer runs are ``benchmarks/device_loop.py`` files (jaxrl vs
    rejax per row), recurrent runs ``benchmarks/recurrent_speed.py`` files, Playground runs
    ``benchmarks/peer_playground.py`` files (jaxrl vs Playground's brax trainer). Files of other
    benchmarks (and ``experiment__*`` files, one-off comparisons) are ignored."""
    rows, tasks, peer_runs, recurrent_runs, playground_runs = [], [], [], [], []
    for path, data in results:
        stamp = {"device": data.get("device_kind", "?"), "date": data.get("date", ""), "file": path.name,
                 "quick": bool(data.get("quick", False))}
        if data.get("benchmark") == "throughput":
            for row in data.get("rows", []):
                if "error" in row or "env_sps" not in row:
                    continue
                # Files from before the matrix: PPO-MLP rows keyed by "vectorization".
                rows.append({"algorithm": "ppo-mlp", "backend": row.get("vectorization"), **row, **stamp})
        elif path.name.startswith("learning__") and "runs" in data:
            tasks.append({**data, **stamp})
        elif path.name.startswith("device_learning__"):
            tasks.append({**_as_learning_task(data), **stamp})
        elif path.name.startswith("device_loop__") and "rows" in data:
            peer_runs.append({**data, **stamp})
        elif path.name.startswith("recurrent_speed__") and "rows" in data:
            recurrent_runs.append({**data, **stamp})
        elif path.name.startswith("peer_playground__") and "rows" in data:
            playground_runs.append({**data, **stamp})
    return rows, tasks, peer_runs, recurrent_runs, playground_runs


def _newest_per_device(runs: Runs) -> list[dict[str, Any]]:
    """The newest run per device."""
    newest = {run["device"]: run for run in sorted(runs, key=lambda run: run["date"])}
    return [newest[cell] for cell in sorted(newest)]


def peer_table(peer_runs: list[dict[str, Any]]) -> str:
    """The newest ``device_loop`` figure per device and row (a run of some rows leaves the others' older
    figures, with their dates): jaxrl's, rejax's and Stable-Baselines3's SPS per row and the ratios."""
    lines = ["| device | row | jaxrl SPS | rejax SPS | jaxrl / rejax | compile s, jaxrl / rejax | SB3 SPS | jaxrl / SB3 "
             "| env alone SPS | date |", "|" + "---|" * 10]
    newest: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for run in sorted(peer_runs, key=lambda run: run["date"]):
        for row in run["rows"]:
            newest[(run["device"], row["row"])] = (run, row)  # a row keeps its first place when replaced
    for (device, name), (run, row) in sorted(newest.items(), key=lambda item: item[0][0]):
        peer = row.get("peer") or {}
        compile_s = f"{row['jaxrl']['compile_s']:.1f}" + (f" / {peer['compile_s']:.1f}" if "compile_s" in peer else "")
        lines.append(f"| {device} | {name} | {row['jaxrl']['aggregate_sps']:,.0f} "
                     f"| {_number(peer.get('aggregate_sps'), ',.0f')} | {_number(row.get('sps_ratio'), '.2f')} "
                     f"| {compile_s} | {_number((row.get('sb3') or {}).get('aggregate_sps'), ',.0f')} "
                     f"| {_number(row.get('sb3_sps_ratio'), '.1f')} | {row['env_only_sps']:,.0f} | {run['date'][:10]} |")
    return "\n".join(lines)


def recurrent_table(recurrent_runs: Runs) -> str:
    """The newest ``recurrent_speed`` run per device: each architecture's SPS and its share of the MLP's."""
    lines = ["| device | architecture | envs x steps | SPS | share of the MLP's SPS | compile s | date |",
             "|" + "---|" * 7]
    for run in _newest_per_device(recurrent_runs):
        for row in run["rows"]:
            share = _number(row.get("fraction_of_mlp") and 100 * row["fraction_of_mlp"], ".1f")
            lines.append(f"| {run['device']} | {row['architecture']} | {row['num_envs']}x{row['num_steps']} "
                         f"| {row['aggregate_sps']:,.0f} | {share if share == '-' else share + '%'} "
                         f"| {row['compile_s']:.1f} | {run['date'][:10]} |")
    return "\n".join(lines)


def newest_playground_sides(playground_runs: Runs) -> dict[tuple[str, str, str], dict[str, tuple[dict, dict]]]:
    """``(device, algorithm, task) -> {trainer: (run, side)}``: each trainer's newest figure per task
    (a run of some tasks, or of one trainer, leaves the others' older figures, with their dates)."""
    cells: dict[tuple[str, str, str], dict[str, tuple[dict, dict]]] = {}
    for run in sorted(playground_runs, key=lambda run: run["date"]):
        for task, sides in run["rows"].items():
            for trainer in ("jaxrl", "brax"):
                if trainer in sides:
                    cell = (run["device"], run.get("algorithm", "ppo"), task)
                    cells.setdefault(cell, {})[trainer] = (run, sides[trainer])
    return dict(sorted(cells.items()))


def playground_table(playground_runs: Runs) -> str:
    """Each trainer's newest ``peer_playground`` figure per device, algorithm and task: its return,
    wall-clock and SPS."""
    lines = ["| device | task | trainer | env steps | final return (sampled) | greedy | wall-clock s (compile) "
             "| train SPS | env alone SPS | date |", "|" + "---|" * 10]
    for (device, algorithm, task), trainers in newest_playground_sides(playground_runs).items():
        for trainer, (run, side) in trainers.items():
            compile_s = f" ({side['compile_s']:.0f})" if "compile_s" in side else ""
            lines.append(f"| {device} | {task} | {trainer} {algorithm.upper()} | {run['total_timesteps']:,} "
                         f"| {side['eval_sampled']:.1f} | {_number(side.get('eval_greedy'), '.1f')} "
                         f"| {side['wall_s']:.0f}{compile_s} | {side['train_sps']:,.0f} "
                         f"| {_number(side.get('env_only_sps'), ',.0f')} | {run['date'][:10]} |")
    return "\n".join(lines)


def plot_playground(playground_runs: Runs, out_dir: Path) -> Path | None:
    """Return vs env steps per device, algorithm and task: jaxrl's training return and brax's evaluations
    (each trainer's newest run)."""
    panels = newest_playground_sides(playground_runs)
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, ((device, algorithm, task), trainers) in zip(axes[0], panels.items(), strict=True):
        if "jaxrl" in trainers:
            side = trainers["jaxrl"][1]
            steps = np.asarray(side["curve_env_steps"], float)
            returns = np.asarray([np.nan if r is None else r for r in side["curve_training_return"]], float)
            axis.plot(steps, returns, color="C0", label="jaxrl (training episodes)")
        if "brax" in trainers:
            evals = trainers["brax"][1]["evals"]
            axis.plot([e["env_steps"] for e in evals], [e["eval_return"] for e in evals], "o-", color="C1",
                      label="Playground's brax trainer (its evaluation)")
        axis.set(title=f"{algorithm.upper()} {task} ({device})", xlabel="env steps", ylabel="episodic return")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    path = out_dir / "playground_curves.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def newest_per_cell(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (device, algorithm, backend, num_envs): the newest full-length measurement, or the
    newest ``--quick`` one where a cell has no other (quick runs time shorter stretches)."""
    cells: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (not r.get("quick", False), r["date"])):
        cells[(row["device"], row["algorithm"], row["backend"], row["num_envs"])] = row
    return [cells[key] for key in sorted(cells, key=lambda k: (k[0], k[1], k[2], k[3]))]


def _number(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def throughput_table(rows: list[dict[str, Any]]) -> str:
    header = ("| device | algorithm | backend | envs | env SPS | policy SPS | act SPS | update SPS | train SPS "
              "| act/env | train/act | act/bound | train/bound | compile s | peak RSS MB | date |")
    lines = [header, "|" + "---|" * 16]
    for r in rows:
        lines.append(f"| {r['device']} | {r['algorithm']} | {r['backend']} | {r['num_envs']} "
                     f"| {_number(r['env_sps'], ',.0f')} | {_number(r.get('policy_sps'), ',.0f')} "
                     f"| {_number(r.get('act_sps'), ',.0f')} | {_number(r.get('update_sps'), ',.0f')} "
                     f"| {_number(r.get('train_sps'), ',.0f')} | {_number(r.get('act_over_env'), '.2f')} "
                     f"| {_number(r.get('train_over_act'), '.2f')} | {_number(r.get('act_over_bound'), '.2f')} "
                     f"| {_number(r.get('train_over_bound'), '.2f')} | {_number(r.get('compile_s'), '.1f')} "
                     f"| {_number(r.get('peak_rss_mb'), ',.0f')} | {r['date'][:10]} |")
    return "\n".join(lines)


def learning_table(tasks: list[dict[str, Any]]) -> str:
    lines = ["| task | device | env steps | seeds passed | mean eval return | threshold | wall-clock s per seed "
             "| date |", "|" + "---|" * 8]
    for t in sorted((t for t in tasks if "vmapped_run" not in t), key=lambda t: (t["task"], t["date"])):
        walls = sorted(run["wall_clock_s"] for run in t["runs"])
        lines.append(f"| {t['task']} | {t['device']} | {t['env_steps']:,} | {t['seeds_passed']}/{t['seeds']} "
                     f"| {t['mean_eval_return']:.1f} | {t['threshold']} "
                     f"| {walls[len(walls) // 2]:.0f} (median; {walls[0]:.0f}-{walls[-1]:.0f}) | {t['date'][:10]} |")
    return "\n".join(lines)


def _distinguishing_overrides(task: dict[str, Any], tasks: list[dict[str, Any]]) -> str:
    """``"name=value, ..."``: the overrides in which ``task``'s run differs from another run of the same
    task on the same device (``unset`` where it set none: the code's default then), so the table tells
    those rows apart."""
    def overrides(t: dict[str, Any]) -> dict[str, Any]:
        return t["vmapped_run"].get("overrides") or {}

    siblings = [overrides(t) for t in tasks if (t["task"], t["device"]) == (task["task"], task["device"])]
    differing = sorted({name for mine in siblings for name in mine if len({str(o.get(name)) for o in siblings}) > 1})
    return ", ".join(f"{name}={overrides(task).get(name, 'unset')}" for name in differing if name != "total_timesteps")


def vmapped_learning_table(tasks: list[dict[str, Any]]) -> str:
    """The device-loop runs whose seeds trained together: one wall-clock for all of them."""
    lines = ["| task | device | env | env steps per seed | seeds passed | eval returns per seed | threshold "
             "| training curve first at threshold (env steps, per seed) | wall-clock s, all seeds (compile) "
             "| train SPS, all seeds | env-only SPS | date |", "|" + "---|" * 12]
    vmapped = sorted((t for t in tasks if "vmapped_run" in t), key=lambda t: (t["task"], t["date"]))
    for t in vmapped:
        run = t["vmapped_run"]
        firsts = ", ".join("-" if f is None else f"{f:,}" for f in run["curve_first_reaches_bar"])
        settings = _distinguishing_overrides(t, vmapped)
        task = t["task"] + "".join(f" ({text})" for text in (settings, run.get("note")) if text)
        lines.append(f"| {task} | {t['device']} | {run['env']} | {t['env_steps']:,} | {t['seeds_passed']}/"
                     f"{t['seeds']} | {', '.join(f'{v:.1f}' for v in run['eval_returns'])} | {t['threshold']} "
                     f"| {firsts} | {run['wall_s']:.0f} ({run['compile_s']:.0f}) | {run['train_sps']:,.0f} "
                     f"| {run['env_only_sps']:,.0f} | {t['date'][:10]} |")
    return "\n".join(lines)


def plot_throughput(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One PNG per algorithm: train SPS (solid) and env-alone SPS (dashed) vs num_envs, log-log."""
    written = []
    for algorithm in sorted({r["algorithm"] for r in rows}):
        mine = [r for r in rows if r["algorithm"] == algorithm]
        devices = sorted({r["device"] for r in mine})
        figure, axes = plt.subplots(1, len(devices), figsize=(5.5 * len(devices), 4), squeeze=False)
        for axis, device in zip(axes[0], devices, strict=True):
            for backend in sorted({r["backend"] for r in mine if r["device"] == device}):
                cells = sorted((r for r in mine if r["device"] == device and r["backend"] == backend),
                               key=lambda r: r["num_envs"])
                envs = [r["num_envs"] for r in cells]
                color = BACKEND_COLORS.get(backend, "C7")  # one color per backend in every panel
                axis.plot(envs, [r["train_sps"] for r in cells], "o-", color=color, label=f"{backend} train")
                axis.plot(envs, [r["env_sps"] for r in cells], "--", color=color, alpha=0.6, label=f"{backend} env alone")
            axis.set(xscale="log", yscale="log", xlabel="num_envs", ylabel="env steps / s", title=f"{algorithm} on {device}")
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=7)
        figure.tight_layout()
        path = out_dir / f"throughput_{algorithm}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def plot_learning(tasks: list[dict[str, Any]], out_dir: Path) -> Path | None:
    """Return vs env steps per task (newest file per task): mean over seeds, min-max shaded."""
    newest = {t["task"]: t for t in sorted(tasks, key=lambda t: t["date"])}
    if not newest:
        return None
    columns = min(3, len(newest))
    rows = -(-len(newest) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for axis, (name, task) in zip(axes.flat, sorted(newest.items()), strict=False):
        curves = [np.array([(s, r) for s, r in run["curve"] if r is not None], float) for run in task["runs"]]
        grid = np.linspace(0, task["env_steps"], 100)
        values = np.stack([np.interp(grid, c[:, 0], c[:, 1], left=np.nan) for c in curves if len(c)])
        grid, values = grid[np.isfinite(values).any(axis=0)], values[:, np.isfinite(values).any(axis=0)]
        with warnings.catch_warnings():  # grid points before some seed's first record are NaN for that seed
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        axis.plot(grid, mean, color="C0", label=f"training return, mean of {len(values)} seeds")
        axis.fill_between(grid, low, high, color="C0", alpha=0.25, label="min-max over seeds")
        evaluations = [np.array(run["eval_curve"], float) for run in task["runs"] if run.get("eval_curve")]
        if evaluations and all(len(e) == len(evaluations[0]) for e in evaluations):
            stacked = np.stack(evaluations)  # [seeds, points, (env_steps, return)]
            steps, returns = stacked[0, :, 0], stacked[:, :, 1]
            axis.errorbar(steps, returns.mean(axis=0), yerr=[returns.mean(axis=0) - returns.min(axis=0),
                          returns.max(axis=0) - returns.mean(axis=0)], color="C3", marker="o", markersize=3,
                          capsize=2, label="evaluation return (deterministic), mean and min-max")
        axis.axhline(task["threshold"], color="gray", linestyle=":", label="threshold")
        axis.set(title=name, xlabel="env steps", ylabel="episodic return")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(newest):]:
        axis.set_visible(False)
    figure.tight_layout()
    path = out_dir / "learning_curves.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_report(paths: list[Path], out_dir: Path) -> Path:
    """Merge ``paths`` into ``out_dir/REPORT.md`` and the PNGs; returns the markdown path."""
    results = read_results(paths)
    rows, tasks, peer_runs, recurrent_runs, playground_runs = load(results)
    rows = newest_per_cell(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plot_throughput(rows, out_dir) if rows else []
    learning_png = plot_learning(tasks, out_dir)
    parts = ["# Benchmark report", "",
             (f"Merged from {len(paths)} result files by `benchmarks/report.py`. Reproduce the throughput rows "
              "with `jaxrl bench` (or `python benchmarks/throughput.py`) on each machine, the learning rows with "
              "`python benchmarks/learning.py`, then `python benchmarks/report.py`."), "",
             "## Throughput (env steps per second)", "",
             ("env SPS: the env alone with random actions; policy SPS: the per-step policy call alone (host "
              "loop); act SPS: env + jitted policy; update SPS: PPO's update alone, in env steps of data per "
              "second; train SPS: the training loop after its first update. The host loop runs policy and env, "
              "then rollout and update, one after the other, so act SPS <= 1/(1/env + 1/policy) and train SPS "
              "<= 1/(1/act + 1/update): act/bound and train/bound say how close the loop comes to those bounds "
              "(pieces timed apart on a shared machine: values a little over 1 are noise). The newest figure "
              "per device, algorithm, backend and num_envs."), "",
             throughput_table(rows) if rows else "(no throughput results)", ""]
    parts += [f"![{p.stem}]({p.name})" for p in images] + [""]
    if peer_runs:
        parts += ["## Device loop against rejax (`benchmarks/device_loop.py`)", "",
                  ("PPO on CartPole, the same config for both (64x64 tanh, 4 epochs x 4 minibatches), both in one "
                   "run on one machine; compile ahead of time, then the best of the timed calls. The newest run "
                   "per device; the recurrent rows have no peer."), "", peer_table(peer_runs), ""]
    if recurrent_runs:
        parts += ["## Recurrent PPO against the feed-forward rate (`benchmarks/recurrent_speed.py`)", "",
                  ("Device loop, PPO on CartPole, 64 steps per env and full-rollout BPTT, 4 epochs x 4 minibatches; "
                   "each recurrent architecture's SPS next to the 64x64 MLP's, measured in the same run. The "
                   "newest run per device."), "", recurrent_table(recurrent_runs), ""]
    if playground_runs:
        parts += ["## PPO and SAC against MuJoCo Playground's own trainer (`benchmarks/peer_playground.py`)", "",
                  ("Playground's published config per task and algorithm run by brax's trainer, and the same "
                   "numbers in jaxrl's device loop (same envs, batches, update counts, step sizes, network "
                   "shapes), at equal env steps, one process. Final return: brax's own last evaluation (128 "
                   "episodes, sampled actions); jaxrl's final policy on 128 fresh episodes. Wall-clock: the "
                   "trainer's call, compilation included (brax's includes its evaluations). The newest run per "
                   "device and algorithm."), "", playground_table(playground_runs), ""]
        playground_png = plot_playground(playground_runs, out_dir)
        parts += [f"![Playground curves]({playground_png.name})", ""] if playground_png else []
    minatar = minatar_peer_table(results)
    if minatar:
        parts += ["## MinAtar beside the peers' own code (`benchmarks/peer_*minatar*.py`, `peer_*pqn.py`)", "",
                  ("Each library's seeds with the same config in one run on one machine; evaluation by each "
                   "library's own protocol (see each script's docstring). The newest file per comparison, "
                   "device and run length."), "", minatar, ""]
    solve = time_to_solve_table(results)
    if solve:
        parts += ["## Time to solve, compilation included (`benchmarks/time_to_solve.py`)", "",
                  ("Wall-clock to a saved agent whose fresh evaluation reaches the bar, per run (a CartPole row: "
                   "a process from start to exit; see the script's docstring). The peers' rows (SB3's without "
                   "its periodic checks) ran in the same run; ratios above 1 mean this row was faster (none for a "
                   "run of several seeds together: its time is all of theirs). The newest run per device and task."), "", solve, ""]
    parts += ["## Learning", "", learning_table(tasks) if tasks else "(no learning results)", ""]
    if any("vmapped_run" in t for t in tasks):
        parts += ["### Device loop, seeds trained together (`benchmarks/device_learning.py`)", "",
                  ("All seeds of a task train in one `jit(vmap(...))` program, so the wall-clock and SPS are "
                   "the whole run's. Evaluation: deterministic policy, fresh episodes. env-only SPS: the same "
                   "number of envs stepped with random actions, no learning."), "",
                  vmapped_learning_table(tasks), ""]
    if learning_png is not None:
        parts += [f"![learning curves]({learning_png.name})", ""]
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(parts))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="result JSON files (default: benchmarks/results/*.json)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where REPORT.md and the plots go")
    args = parser.parse_args(argv)
    paths = args.files or sorted(RESULTS_DIR.glob("*.json"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such result file: {', '.join(missing)}")
    print("wrote", write_report(paths, args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
