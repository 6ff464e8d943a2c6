"""The commands that read saved runs: ``jaxrl eval`` (a run's agent, or every seed of a device run)
and ``jaxrl plot`` (one run's curves, or several runs' returns side by side)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jaxrl.agents.registry import get_algorithm
from jaxrl.core.aggregate import interquartile_mean
from jaxrl.envs.atari import evaluated_stochastically


def eval_is_deterministic(algorithm_default: bool, env_id: str, flag: bool | None) -> bool:
    """Whether ``jaxrl eval`` acts greedily: ``--deterministic``/``--no-deterministic`` where given, else
    the algorithm's default, except where the env is evaluated stochastically (Atari)."""
    if flag is not None:
        return flag
    return algorithm_default and not evaluated_stochastically(env_id)


def seeds_summary(seeds: list[int], summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``jaxrl eval`` prints for a device run of several seeds: each seed's mean return over its
    episodes, their mean and interquartile mean (rliable's aggregate for few runs)."""
    means = [summary["mean_return"] for summary in summaries]
    return {"seeds": seeds, "mean_return_per_seed": means, "mean_return": sum(means) / len(means),
            "iqm_return": interquartile_mean(means), "episodes_per_seed": summaries[0]["episodes"]}


def evaluate_command(args: argparse.Namespace) -> None:
    """``jaxrl eval``: the run's agent on fresh episodes; a device run of several seeds: each seed's agent on
    the same episodes, the last stdout line their summary (:func:`seeds_summary`)."""
    from jaxrl.api import load
    from jaxrl.io.video import check_video_path, write_video
    from jaxrl.loops.evaluate import SeveralSeeds, evaluate

    if args.video is not None and args.render:
        raise ValueError("--video and --render are alternatives: write the episode or watch it")
    if args.video is not None:
        check_video_path(args.video)
    try:
        runs = [load(args.run_dir)]
    except SeveralSeeds as several:
        if args.video is not None or args.render:  # one agent is filmed or watched: say which
            raise
        runs = [load(seed_dir) for seed_dir in several.seed_dirs]
    render_mode = "rgb_array" if args.video is not None else "human" if args.render else None
    summaries = []
    for run in runs:
        algorithm = get_algorithm(run.algorithm)
        deterministic = eval_is_deterministic(algorithm.deterministic_eval, run.config.env, args.deterministic)
        result = evaluate(algorithm.agent_for(run.config), run.state, run.config.env, args.episodes, deterministic,
                          args.seed, render_mode=render_mode)
        summaries.append(result.summary())
        if len(runs) > 1:
            print(f"seed {run.config.seed}: {json.dumps(summaries[-1])}", file=sys.stderr)
    if args.video is not None:
        write_video(result.frames, args.video)
        print(f"wrote {len(result.frames)} frames to {args.video}", file=sys.stderr)
    print(json.dumps(summaries[0] if len(runs) == 1 else seeds_summary([run.config.seed for run in runs], summaries)))


def plot_command(args: argparse.Namespace) -> None:
    """``jaxrl plot``: one run's learning curves, or several runs' returns in one chart."""
    from jaxrl.io.config_file import not_a_run_dir
    from jaxrl.io.plot import plot_run, plot_runs

    for run_dir in args.run_dir:
        if not (run_dir / "metrics.jsonl").is_file():
            raise FileNotFoundError(f"{run_dir}/metrics.jsonl not found: {not_a_run_dir(run_dir)}")
    if len(args.run_dir) == 1:
        print(f"wrote {plot_run(args.run_dir[0], args.out)}")
        return
    print(f"wrote {plot_runs(args.run_dir, args.out or args.run_dir[0].parent / 'comparison.png')}")
