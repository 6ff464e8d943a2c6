"""The lines ``jaxrl train`` prints after a run: its learning curve in one line of text, why a
seed has no return when none of its episodes ended, and that the run used the defaults where its
env has no preset.

The curve is what a user sees of learning without opening TensorBoard or ``jaxrl plot``:
``episodic return 21.4 ▁▂▄▆▇██████ 500.0 over 99,840 env steps (chart: jaxrl plot DIR)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from jaxrl.agents.registry import get_algorithm

BLOCKS = "▁▂▃▄▅▆▇█"  # eight heights, lowest to highest
ASCII_BLOCKS = "_.-=+*#@"  # the same ramp for a terminal that cannot show the blocks
CURVE_WIDTH = 40


def column_means(values: Sequence[float], width: int) -> list[float]:
    """``values`` in order, cut into ``min(width, len(values))`` consecutive groups of (almost)
    equal size, each replaced by the mean of its finite values (NaN where it has none)."""
    columns = min(width, len(values))
    means = []
    for column in range(columns):
        group = values[column * len(values) // columns: (column + 1) * len(values) // columns]
        finite = [value for value in group if value is not None and math.isfinite(value)]
        means.append(sum(finite) / len(finite) if finite else math.nan)
    return means


def sparkline(values: Sequence[float], width: int = CURVE_WIDTH, blocks: str = BLOCKS) -> str:
    """One character per column of :func:`column_means`: the lowest column mean gets ``blocks[0]``,
    the highest ``blocks[-1]``, linearly between; a column without a finite value is a space, and
    a flat curve sits at the middle height."""
    means = column_means(values, width)
    finite = [mean for mean in means if math.isfinite(mean)]
    if not finite:
        return " " * len(means)
    low, high = min(finite), max(finite)
    top = len(blocks) - 1

    def height(mean: float) -> int:
        return top // 2 if high == low else round((mean - low) / (high - low) * top)

    return "".join(blocks[height(mean)] if math.isfinite(mean) else " " for mean in means)


def curve_line(env_steps: int, returns: Sequence[float], run_dir: str | Path,
               encoding: str | None = None) -> str | None:
    """The run's training return over its records as one line (None before two records had a
    finite return); ``encoding``: the terminal's, ASCII blocks where it cannot show ``BLOCKS``."""
    finite = [value for value in returns if value is not None and math.isfinite(value)]
    if len(finite) < 2:
        return None
    try:
        BLOCKS.encode(encoding or "utf-8")
        blocks = BLOCKS
    except (UnicodeEncodeError, LookupError):
        blocks = ASCII_BLOCKS
    return (f"episodic return {finite[0]:.1f} {sparkline(returns, blocks=blocks)} {finite[-1]:.1f} over "
            f"{env_steps:,} env steps (chart: jaxrl plot {run_dir})")


def unfinished_note(returns: Sequence[float | None], seeds: Sequence[int], env_steps: int) -> str | None:
    """Why a final ``episodic_return`` is null: no episode of that seed ended within the run."""
    unfinished = [seed for seed, value in zip(seeds, returns) if value is None or not math.isfinite(value)]
    if not unfinished:
        return None
    which = "" if len(returns) == 1 else f"seed(s) {unfinished}: "
    return (f"{which}no episode finished in {env_steps} env steps (the episodes are longer than the run), "
            "so episodic_return is null")


def missing_preset_note(algorithm: str, env: str) -> str | None:
    """The line saying that ``algorithm`` has no preset for ``env``, so that the run started from
    defaults tuned for another env; None where it has one."""
    entry = get_algorithm(algorithm)
    tuned_for = entry.config_cls().env
    if env == tuned_for or entry.preset_for(env) is not None:
        return None
    return (f"note: {algorithm} has no preset for {env}; this run used the defaults, which are tuned for {tuned_for} "
            f"(`jaxrl train {algorithm} --env {env} --help` lists them)")


def after_run_lines(run_dir: str | Path, env_steps: int, curve: Sequence[float], final: Sequence[float | None],
                    seeds: Sequence[int], encoding: str | None = None, algorithm: str | None = None,
                    env: str | None = None) -> list[str]:
    """What ``jaxrl train`` says after a run: the learning curve of ``curve`` (the training return
    per record), where a seed's ``final`` return is null, why, and whether ``algorithm`` ran on
    ``env`` without a preset (said after the run, so a refused env stays a one-line error)."""
    lines = (curve_line(env_steps, curve, run_dir, encoding), unfinished_note(final, seeds, env_steps),
             missing_preset_note(algorithm, env) if algorithm and env else None)
    return [line for line in lines if line is not None]
