"""Wall-clock to a solved agent, compilation included, for jaxrl's out-of-the-box presets and a peer.

    python benchmarks/time_to_solve.py                     # SAC, TD3, DDPG on phys2d/Pendulum-v0
    python benchmarks/time_to_solve.py --agents sac --seeds 1 2 3
    python benchmarks/time_to_solve.py --task cartpole --peer-python peer/bin/python

Pendulum (bar -200): each (agent, seed) is one ``jaxrl.run_device`` call with the env's preset
and no other flags, timed from the call to the saved agent (compilation included), and again
stopped at the first evaluation during training that reaches the bar (:data:`PENDULUM_EVAL_STOP`); then
``--vmapped-agents`` with ``--vmapped-seeds`` seeds in one vmapped run (timed as a whole), and
``--host-agents`` from the host loop's preset (gymnasium ``Pendulum-v1``; every seed).

CartPole (bar 475): PPO, each row a fresh process timed from its start to its exit, i.e. to the
saved agent (imports, compilation, training, checkpoints): ``jaxrl train ppo`` with the preset of
the device loop (``phys2d/CartPole-v1``; one seed, then again with the persistent compilation cache
warm, then 16 seeds in one vmapped run) and of the host loop (gymnasium ``CartPole-v1``), each
loop's preset again with ``--target-return 475`` (stops once the mean training return of the last
20 episodes reaches the bar), each loop's preset stopped as SB3's rows are (``--eval-every 8
--eval-episodes 10 --target-eval-return 475``: the first evaluation during training, every 2,048
steps as SB3's, that reaches the bar; its evaluations timed), and, with
``--peer-python``, rejax's PPO with PureJaxRL's CartPole config (benchmarks/peer_rejax_solve.py).

With ``--sb3-python`` (a Python with stable-baselines3): Stable-Baselines3's SAC (Pendulum-v1) or
PPO (CartPole-v1) with its default hyper-parameters, each seed a fresh process that stops at the
first periodic evaluation that reaches the bar (benchmarks/peer_sb3_solve.py; the periodic
evaluations are left out of its time).

Every agent is then evaluated on fresh episodes (not timed; jaxrl's and SB3's deterministically,
rejax by its own sampling ``make_act``). A seed counts as solved when its evaluation reaches the bar. Writes
``benchmarks/results/time_to_solve__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _meta import run_peer_script, write_result

import jaxrl

ENV, BAR = "phys2d/Pendulum-v0", -200.0
CARTPOLE_BAR = 475.0


def eval_stop(bar: float, every: int) -> dict:
    """Config fields that stop a run as SB3's rows stop: at the first evaluation during training
    (10 deterministic episodes, every ``every`` metrics records) that reaches ``bar``; here the
    evaluations' time counts."""
    return {"eval_every": every, "eval_episodes": 10, "target_eval_return": bar}


# Pendulum: a record of the off-policy presets is 8 envs x 12 steps; 10 of them ~ SB3 SAC's 1,000 steps
PENDULUM_EVAL_STOP = eval_stop(BAR, 10)


def solve(algorithm: str, seed: int, episodes: int, stop_at_eval: bool = False) -> dict:
    """One timed run from the preset (``stop_at_eval``: stopped by :data:`PENDULUM_EVAL_STOP`), then
    its evaluation on fresh episodes."""
    config = jaxrl.config_for(algorithm, ENV, seed=seed, progress=False, **(PENDULUM_EVAL_STOP if stop_at_eval else {}))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = jaxrl.run_device(algorithm, config, num_seeds=1, run_dir=Path(folder) / "run")
        wall_s = time.perf_counter() - start
    state = result.seed_state()
    evaluation = jaxrl.evaluate(algorithm, state, episodes=episodes, seed=10_000 + seed)
    return {"algorithm": algorithm + (" (stopped at an evaluation >= bar)" if stop_at_eval else ""), "seed": seed,
            "env_steps": result.summary["env_steps_per_seed"], "wall_s": wall_s,
            "compile_s": result.summary["compile_s"], "train_s": result.summary["train_s"],
            "eval_s": result.summary["eval_s"], "stop_reason": result.summary["stop_reason"],
            "eval_mean_return": evaluation["mean_return"], "eval_episodes": episodes,
            "solved": evaluation["mean_return"] >= BAR}


def solve_vmapped(algorithm: str, first_seed: int, num_seeds: int, episodes: int) -> dict:
    """``num_seeds`` seeds of the preset in one vmapped device run, timed as a whole, each evaluated."""
    config = jaxrl.config_for(algorithm, ENV, seed=first_seed, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = jaxrl.run_device(algorithm, config, num_seeds=num_seeds, run_dir=Path(folder) / "run")
        wall_s = time.perf_counter() - start
    returns = [jaxrl.evaluate(algorithm, result.seed_state(i), episodes=episodes,
                              seed=10_000 + first_seed + i)["mean_return"] for i in range(num_seeds)]
    return {"algorithm": f"{algorithm} ({num_seeds} seeds vmapped)", "seed": first_seed, "num_seeds": num_seeds,
            "wall_s": wall_s, "wall_s_per_seed": wall_s / num_seeds, "compile_s": result.summary["compile_s"],
            "eval_returns": returns, "solved": f"{sum(r >= BAR for r in returns)}/{num_seeds}"}


def solve_host(algorithm: str, seed: int, episodes: int) -> dict:
    """The host loop's preset (gymnasium ``Pendulum-v1``), timed from the call to the saved agent."""
    config = jaxrl.config_for(algorithm, "Pendulum-v1", seed=seed, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = jaxrl.train(algorithm, config, run_dir=Path(folder) / "run")
        wall_s = time.perf_counter() - start
    evaluation = jaxrl.evaluate(algorithm, result.state, episodes=episodes, seed=10_000 + seed)
    return {"algorithm": f"{algorithm} (host loop, Pendulum-v1)", "seed": seed, "wall_s": wall_s,
            "env_steps": config.total_timesteps, "eval_mean_return": evaluation["mean_return"],
            "solved": evaluation["mean_return"] >= BAR}


def timed_train(argv: list[str], run_dir: Path, cache: str) -> float:
    """Seconds from the start of a ``jaxrl train ppo`` process to its exit (the saved agent)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "ppo", *argv, "--run-dir", str(run_dir),
                           "--no-progress"], capture_output=True, text=True, check=False,
                          env={**os.environ, "JAXRL_COMPILATION_CACHE": cache})
    if done.returncode != 0:
        raise RuntimeError(f"jaxrl train ppo {' '.join(argv)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - start


def evaluated(run_dirs: list[Path], episodes: int) -> list[float]:
    """Deterministic evaluation (fresh episodes) of each run dir's saved agent."""
    returns = []
    for run_dir in run_dirs:
        loaded = jaxrl.load(run_dir)
        returns.append(float(jaxrl.evaluate("ppo", loaded.state, episodes=episodes)["mean_return"]))
    return returns


# CartPole: an update of the PPO presets is 256 env steps; every 8 = SB3 PPO's 2,048-step evaluations
CARTPOLE_EVAL_STOP = [f"--{name.replace('_', '-')}={value}" for name, value in eval_stop(CARTPOLE_BAR, 8).items()]


def cartpole_rows(seeds: list[int], episodes: int, peer_python: str | None) -> list[dict]:
    """PPO to CartPole >= 475 from each preset, every row a fresh process (see the module doc)."""
    device = ["--env", "phys2d/CartPole-v1", "--loop", "device"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        timed_train([*device, "--seed", "999"], folder / "warm", str(folder / "cache"))  # fills the cache
        for seed in seeds:
            for label, argv, cache in (("jaxrl device preset, 1 seed", device, "off"),
                                       ("jaxrl device preset, 1 seed, compilation cache warm", device,
                                        str(folder / "cache")),
                                       ("jaxrl host preset (gymnasium CartPole-v1), 1 seed",
                                        ["--env", "CartPole-v1", "--loop", "host"], "off"),
                                       # stopping at the bar, as SB3's rows do (training return, not an eval)
                                       ("jaxrl device preset, --target-return 475, 1 seed",
                                        [*device, "--target-return", str(CARTPOLE_BAR)], "off"),
                                       ("jaxrl host preset, --target-return 475, 1 seed",
                                        ["--env", "CartPole-v1", "--loop", "host", "--target-return",
                                         str(CARTPOLE_BAR)], "off"),
                                       # SB3's rule: the first evaluation during training >= the bar
                                       ("jaxrl device preset, stopped at an evaluation >= 475, 1 seed",
                                        [*device, *CARTPOLE_EVAL_STOP], "off"),
                                       ("jaxrl host preset, stopped at an evaluation >= 475, 1 seed",
                                        ["--env", "CartPole-v1", "--loop", "host", *CARTPOLE_EVAL_STOP], "off")):
                run_dir = folder / f"{len(rows)}"
                wall_s = timed_train([*argv, "--seed", str(seed)], run_dir, cache)
                seed_dirs = sorted(run_dir.glob("seed_*")) or [run_dir]
                rows.append({"row": label, "seed": seed, "wall_s": wall_s, "eval_returns": evaluated(seed_dirs,
                                                                                                      episodes)})
        run_dir = folder / "vmapped"
        wall_s = timed_train([*device, "--seed", str(seeds[0]), "--num-seeds", "16"], run_dir, "off")
        rows.append({"row": "jaxrl device preset, 16 seeds in one vmapped run", "seed": seeds[0], "wall_s": wall_s,
                     "eval_returns": evaluated(sorted(run_dir.glob("seed_*")), episodes)})
    for seed in seeds if peer_python else []:
        peer = run_peer_script([peer_python, str(Path(__file__).with_name("peer_rejax_solve.py")), "--seed",
                                str(seed), "--episodes", str(episodes)])
        if "error" in peer:
            rows.append({"row": "rejax", "seed": seed, **peer})
            continue
        rows.append({"row": "rejax PPO (PureJaxRL's CartPole config, 500k steps), 1 seed", "seed": seed,
                     "wall_s": peer["wall_s"], "eval_returns": [peer["eval_mean_return"]]})
    for row in rows:
        row["solved"] = f"{sum(r >= CARTPOLE_BAR for r in row.get('eval_returns', []))}/{len(row.get('eval_returns', []))}"
        print(json.dumps(row), flush=True)
    return rows


SB3_RUNS = {"pendulum": ("sac", "Pendulum-v1", BAR, 1_000, 60_000),
            "cartpole": ("ppo", "CartPole-v1", CARTPOLE_BAR, 2_048, 300_000)}


def sb3_rows(task: str, seeds: list[int], episodes: int, sb3_python: str) -> list[dict]:
    """Stable-Baselines3's defaults on ``task``, one fresh process per seed (see the module doc)."""
    algo, env, bar, every, max_steps = SB3_RUNS[task]
    rows = []
    for seed in seeds:
        args = [sb3_python, str(Path(__file__).with_name("peer_sb3_solve.py")), "--algo", algo, "--env", env,
                "--bar", str(bar), "--seed", str(seed), "--eval-every", str(every), "--eval-episodes", "10",
                "--max-steps", str(max_steps), "--episodes", str(episodes)]
        peer = run_peer_script(args)
        label = f"Stable-Baselines3 {algo.upper()} defaults ({env}), 1 seed"
        if "error" in peer:
            rows.append({"row": label, "seed": seed, **peer})
        else:
            rows.append({"row": label, "algorithm": f"sb3-{algo}", "seed": seed, **peer,
                         "eval_returns": [peer["eval_mean_return"]], "solved": peer["eval_mean_return"] >= bar})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["pendulum", "cartpole"], default="pendulum",
                        help="Pendulum (bar -200: SAC, TD3, DDPG) or CartPole (bar 475: PPO)")
    parser.add_argument("--agents", nargs="+", default=["sac", "td3", "ddpg"], help="Pendulum: agents timed per seed")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds of the per-seed rows")
    parser.add_argument("--episodes", type=int, default=10, help="fresh evaluation episodes of each saved agent")
    parser.add_argument("--peer-python", default=None, help="a Python with rejax 0.1.3 and gymnax 0.0.9 (CartPole)")
    parser.add_argument("--sb3-python", default=None, help="a Python with stable-baselines3 (SAC / PPO defaults)")
    parser.add_argument("--vmapped-seeds", type=int, default=16, help="Pendulum: seeds of the vmapped rows")
    parser.add_argument("--vmapped-agents", nargs="*", default=["td3", "ddpg"],
                        help="Pendulum: agents also timed with --vmapped-seeds seeds in one vmapped run")
    parser.add_argument("--host-agents", nargs="*", default=["td3"],
                        help="Pendulum: agents also timed from the host loop's preset (gymnasium's Pendulum-v1)")
    args = parser.parse_args(argv)
    sb3 = sb3_rows(args.task, args.seeds, args.episodes, args.sb3_python) if args.sb3_python else []
    if args.task == "cartpole":
        for row in sb3:  # the CartPole rows count seeds solved as "k/n"
            row["solved"] = f"{int(row.get('solved', False))}/1"
        rows = cartpole_rows(args.seeds, args.episodes, args.peer_python) + sb3
        path = write_result("time_to_solve", {"benchmark": "time_to_solve", "task": "cartpole",
                                              "bar": CARTPOLE_BAR, "rows": rows})
        print("wrote", path)
        return
    rows = []
    for algorithm in args.agents:
        for seed, stop_at_eval in ((seed, stop) for stop in (False, True) for seed in args.seeds):
            rows.append(solve(algorithm, seed, args.episodes, stop_at_eval))
            row = rows[-1]
            print(f"{row['algorithm']} seed {seed}: {row['wall_s']:.1f} s ({row['compile_s']:.1f} s compile), "
                  f"eval {row['eval_mean_return']:.1f}, {'solved' if row['solved'] else 'NOT solved'}", flush=True)
    rows += [row for row in sb3 if "wall_s" in row]
    extra_rows = [solve_vmapped(algorithm, args.seeds[0], args.vmapped_seeds, args.episodes)
                  for algorithm in args.vmapped_agents]
    extra_rows += [solve_host(algorithm, seed, args.episodes) for algorithm in args.host_agents for seed in args.seeds]
    for row in extra_rows:
        print(json.dumps(row), flush=True)
    algorithms = list(dict.fromkeys(row["algorithm"] for row in rows))
    summary = {algorithm: {"solved": f"{sum(r['solved'] for r in rows if r['algorithm'] == algorithm)}/"
                                     f"{sum(r['algorithm'] == algorithm for r in rows)}",
                           "median_wall_s": float(np.median([r["wall_s"] for r in rows if r["algorithm"] == algorithm]))}
               for algorithm in algorithms}
    print(summary)
    path = write_result("time_to_solve", {"benchmark": "time_to_solve", "env": ENV, "bar": BAR, "rows": rows,
                                          "summary": summary, "other_rows": extra_rows})
    print("wrote", path)


if __name__ == "__main__":
    main()
