"""Wall-clock to a solved agent, compilation included, for the device loop's out-of-the-box presets.

    python benchmarks/time_to_solve.py                     # SAC, TD3, DDPG on phys2d/Pendulum-v0
    python benchmarks/time_to_solve.py --agents sac --seeds 1 2 3

Each (agent, seed) is one ``jaxrl.run_device`` call with the env's preset and no other flags,
timed from the call to the saved agent (compilation included), then evaluated deterministically
on fresh episodes (not timed). A seed counts as solved when its evaluation reaches the bar
(-200 for Pendulum). Writes ``benchmarks/results/time_to_solve__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _meta import write_result

import jaxrl

ENV, BAR = "phys2d/Pendulum-v0", -200.0


def solve(algorithm: str, seed: int, episodes: int) -> dict:
    """One timed run from the preset, then its evaluation."""
    config = jaxrl.config_for(algorithm, ENV, seed=seed, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = jaxrl.run_device(algorithm, config, num_seeds=1, run_dir=Path(folder) / "run")
        wall_s = time.perf_counter() - start
    state = jax_first_seed(result.states)
    evaluation = jaxrl.evaluate(algorithm, state, episodes=episodes, seed=10_000 + seed)
    return {"algorithm": algorithm, "seed": seed, "env_steps": result.summary["env_steps_per_seed"],
            "wall_s": wall_s, "compile_s": result.summary["compile_s"], "train_s": result.summary["train_s"],
            "eval_mean_return": evaluation["mean_return"], "eval_episodes": episodes,
            "solved": evaluation["mean_return"] >= BAR}


def jax_first_seed(states):
    """The one seed's train state of a one-seed device run (leaves carry a leading seed axis)."""
    import jax

    return jax.tree.map(lambda leaf: leaf[0], states)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["sac", "td3", "ddpg"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args(argv)
    rows = []
    for algorithm in args.agents:
        for seed in args.seeds:
            rows.append(solve(algorithm, seed, args.episodes))
            row = rows[-1]
            print(f"{algorithm} seed {seed}: {row['wall_s']:.1f} s ({row['compile_s']:.1f} s compile), "
                  f"eval {row['eval_mean_return']:.1f}, {'solved' if row['solved'] else 'NOT solved'}", flush=True)
    summary = {algorithm: {"solved": f"{sum(r['solved'] for r in rows if r['algorithm'] == algorithm)}/"
                                     f"{sum(r['algorithm'] == algorithm for r in rows)}",
                           "median_wall_s": float(np.median([r["wall_s"] for r in rows if r["algorithm"] == algorithm]))}
               for algorithm in args.agents}
    print(summary)
    path = write_result("time_to_solve", {"benchmark": "time_to_solve", "env": ENV, "bar": BAR, "rows": rows,
                                          "summary": summary})
    print("wrote", path)


if __name__ == "__main__":
    main()
