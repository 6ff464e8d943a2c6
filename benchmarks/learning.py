"""Learning benchmarks: several seeds per task, evaluation return after a fixed budget.

    python benchmarks/learning.py                      # every task, 5 seeds
    python benchmarks/learning.py --tasks ppo-cartpole --seeds 2

Each task trains with the shipped preset config, then evaluates the final policy on
fresh episodes (deterministic actions). Writes ``benchmarks/results/learning__*.json``
with per-seed final returns, learning curves (the training episodic return per update or
record; with ``--eval-points N`` also the deterministic evaluation return of ~N checkpoints)
and wall-clock, prints a summary, and redraws
``benchmarks/results/learning_curves.png`` (every task: mean over seeds, spread shaded;
``benchmarks/report.py`` draws the same from any set of result files).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

import jaxrl
from jaxrl.agents.registry import ON_POLICY, get_algorithm

ZOO_PENDULUM = {"num_envs": 1, "updates_per_step": 1, "batch_size": 256, "n_step": 1, "hidden_sizes": (256, 256)}
# name -> (algorithm, env, env steps, threshold on the mean evaluation return, overrides)
DEFAULT_TASKS = ["ppo-cartpole", "ppo-pendulum", "ddpg-pendulum", "td3-pendulum", "sac-pendulum"]
TASKS = {
    "ppo-cartpole": ("ppo", "CartPole-v1", 100_000, 475.0, {}),
    "ppo-pendulum": ("ppo", "Pendulum-v1", 200_000, -250.0, {}),
    "ddpg-pendulum": ("ddpg", "Pendulum-v1", 9_000, -200.0, {}),
    "td3-pendulum": ("td3", "Pendulum-v1", 9_000, -200.0, {}),
    "sac-pendulum": ("sac", "Pendulum-v1", 9_000, -200.0, {}),
    # The earlier preset, RL Baselines3 Zoo's settings (one env, 256x256, batch 256, 1-step returns).
    "sac-pendulum-zoo": ("sac", "Pendulum-v1", 20_000, -200.0, ZOO_PENDULUM),
    "pqn-cartpole": ("pqn", "CartPole-v1", 200_000, 475.0, {}),
    # Measured before the recipe became the Pendulum-v1 preset (8 envs x 8 gradient steps per vector
    # step, 64x64, batches of 128, n-step returns): the same configs as the three presets above.
    "ddpg-pendulum-fast": ("ddpg", "Pendulum-v1", 9_000, -200.0, {}),
    "td3-pendulum-fast": ("td3", "Pendulum-v1", 9_000, -200.0, {}),
    "sac-pendulum-fast": ("sac", "Pendulum-v1", 9_000, -200.0, {}),
    "dqn-cartpole": ("dqn", "CartPole-v1", 500_000, 475.0, {}),
    # 3-step returns at 150k env steps (CleanRL's defaults otherwise; epsilon decays over 50% of the run)
    "dqn-nstep3-cartpole": ("dqn", "CartPole-v1", 150_000, 475.0, {"n_step": 3}),
    # Partially observable: LSTM next to feed-forward, same budget and hyper-parameters.
    "ppo-lstm-cartpole-novel": ("ppo", "jaxrl/CartPole-NoVel-v1", 1_000_000, 400.0, {"policy": "lstm"}),
    "ppo-mlp-cartpole-novel": ("ppo", "jaxrl/CartPole-NoVel-v1", 1_000_000, 400.0, {"policy": "mlp"}),
    "ppo-lstm-pendulum-novel": ("ppo", "jaxrl/Pendulum-NoVel-v1", 300_000, -400.0, {"policy": "lstm"}),
    "ppo-mlp-pendulum-novel": ("ppo", "jaxrl/Pendulum-NoVel-v1", 300_000, -400.0, {"policy": "mlp"}),
    # gymnasium's MuJoCo envs (pip install 'gymnasium[mujoco]') with PPO's MuJoCo preset (CleanRL's continuous
    # PPO settings, 8 envs x 256 steps for its 2,048-step batch), and HalfCheetah without --norm-reward; the
    # bar is only a marker
    "ppo-halfcheetah": ("ppo", "HalfCheetah-v5", 1_000_000, 1000.0, {"norm_reward": False}),
    "ppo-halfcheetah-norm-reward": ("ppo", "HalfCheetah-v5", 1_000_000, 1000.0, {}),
    "ppo-hopper-norm-reward": ("ppo", "Hopper-v5", 1_000_000, 1000.0, {}),
    "ppo-walker2d-norm-reward": ("ppo", "Walker2d-v5", 1_000_000, 1000.0, {}),
    # Ant-v5 observing the 78 contact-force entries v5 adds by default (the MuJoCo preset before it left them
    # out), then without them (Ant-v5's preset since), and Ant-v4 (whose default leaves them out)
    "ppo-ant": ("ppo", "Ant-v5", 1_000_000, 1000.0, {"env_kwargs": ("include_cfrc_ext_in_observation=true",)}),
    "ppo-ant-no-contact-forces": ("ppo", "Ant-v5", 1_000_000, 1000.0,
                                  {"env_kwargs": ("include_cfrc_ext_in_observation=false",)}),
    "ppo-ant-v4": ("ppo", "Ant-v4", 1_000_000, 1000.0, {}),
    # The rest of gymnasium's MuJoCo envs with the same preset; each bar is only a marker (near the best
    # return where the env has one: InvertedPendulum 1000, InvertedDoublePendulum ~9360)
    "ppo-invertedpendulum": ("ppo", "InvertedPendulum-v5", 1_000_000, 950.0, {}),
    "ppo-inverteddoublependulum": ("ppo", "InvertedDoublePendulum-v5", 1_000_000, 9000.0, {}),
    "ppo-reacher": ("ppo", "Reacher-v5", 1_000_000, -10.0, {}),
    "ppo-swimmer": ("ppo", "Swimmer-v5", 1_000_000, 50.0, {}),
    # Swimmer's reward needs a long horizon: RL Baselines3 Zoo trains it with gamma 0.9999
    "ppo-swimmer-gamma9999": ("ppo", "Swimmer-v5", 1_000_000, 50.0, {"gamma": 0.9999}),
    "ppo-pusher": ("ppo", "Pusher-v5", 1_000_000, -50.0, {}),
    "ppo-humanoid": ("ppo", "Humanoid-v5", 1_000_000, 700.0, {}),
    "ppo-humanoidstandup": ("ppo", "HumanoidStandup-v5", 1_000_000, 100_000.0, {}),

    # Atari Breakout (pip install 'jaxrl[atari]') with PPO's Atari preset (CleanRL's ppo_atari.py settings) for
    # 400k of its 10M steps, the CPU's share; a random policy scores ~1.5
    "ppo-breakout": ("ppo", "ALE/Breakout-v5", 400_000, 5.0, {"vectorization": "async"}),
    # Atari Breakout with DQN's Atari preset (CleanRL's dqn_atari.py, a 100k replay of uint8 frames) for 400k of
    # its 10M steps: learning from 20k steps and epsilon 1 -> 0.01 over the first 100k, the preset's 80k and 1M
    # scaled to the shorter run (with 80k of 400k, the preset's epsilon would end before learning starts)
    "dqn-breakout": ("dqn", "ALE/Breakout-v5", 400_000, 5.0, {"learning_starts": 20_000, "exploration_fraction": 0.25}),
    # ... and with PQN's Atari preset (purejaxql's pqn_atari.yaml: 128 envs x 32 steps), 400k of its 10M steps
    "pqn-breakout": ("pqn", "ALE/Breakout-v5", 400_000, 5.0, {}),
    # SAC with CleanRL's sac_continuous_action.py settings (jaxrl's off-policy defaults: one env, 256x256,
    # batches of 256, one gradient step per env step) and its 5,000 random steps, 100k steps of its 1M
    "sac-hopper": ("sac", "Hopper-v5", 100_000, 1000.0, {"learning_starts": 5_000}),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", 100_000, 2000.0, {"learning_starts": 5_000}),
    # gymnasium's LunarLander-v3 (pip install 'jaxrl[box2d]') with PPO's and DQN's presets, RL Baselines3 Zoo's
    # settings; 200 is the env's "solved" bar
    "ppo-lunarlander": ("ppo", "LunarLander-v3", 1_000_000, 200.0, {}),
    "dqn-lunarlander": ("dqn", "LunarLander-v3", 100_000, 200.0, {}),
    "ppo-lunarlandercontinuous": ("ppo", "LunarLanderContinuous-v3", 1_000_000, 200.0, {}),
    "sac-lunarlandercontinuous": ("sac", "LunarLanderContinuous-v3", 200_000, 200.0, {}),
    # gymnasium's Acrobot-v1 and MountainCar-v0 with PPO's and DQN's presets (RL Baselines3 Zoo's settings); the
    # bars are markers (-100: the episode ends in 100 steps; MountainCar's cap is 200)
    "ppo-acrobot": ("ppo", "Acrobot-v1", 1_000_000, -100.0, {}),
    "dqn-acrobot": ("dqn", "Acrobot-v1", 100_000, -100.0, {}),
    "ppo-mountaincar": ("ppo", "MountainCar-v0", 1_000_000, -150.0, {}),
    "dqn-mountaincar": ("dqn", "MountainCar-v0", 120_000, -150.0, {}),
    # the same without SB3's gradient clip (the presets' before they had it)
    "dqn-mountaincar-noclip": ("dqn", "MountainCar-v0", 120_000, -150.0, {"max_grad_norm": None}),
    "dqn-lunarlander-noclip": ("dqn", "LunarLander-v3", 100_000, 200.0, {"max_grad_norm": None}),
}


def evaluation_curve(algorithm: str, config, run_dir: Path, episodes: int) -> list[tuple[int, float]]:
    """``[(env_steps, mean deterministic evaluation return)]`` of every checkpoint the run kept."""
    from jaxrl.io.checkpoint import list_checkpoints, read_checkpoint

    curve = []
    for path in list_checkpoints(run_dir):
        meta, _ = read_checkpoint(path)
        state = jaxrl.load(run_dir, checkpoint=path).state
        result = jaxrl.evaluate(algorithm, state, episodes=episodes, deterministic=True)
        curve.append((int(meta["env_steps"]), result["mean_return"]))
    return curve


def run_task(name: str, seeds: list[int], eval_episodes: int, eval_points: int = 0) -> dict:
    """Train and evaluate every seed; with ``eval_points`` > 0 also evaluate (5 episodes each) about
    that many checkpoints spread over the run, giving an evaluation-return curve per seed."""
    algorithm, env, steps, threshold, overrides = TASKS[name]
    runs = []
    for seed in seeds:
        config = jaxrl.config_for(algorithm, env, seed=seed, total_timesteps=steps, progress=False, **overrides)
        if eval_points:
            on_policy = get_algorithm(algorithm).schedule == ON_POLICY
            iterations = config.num_updates if on_policy else max(1, steps // config.log_every)
            config = dataclasses.replace(config, checkpoint_every=max(1, iterations // eval_points),
                                         keep_checkpoints=10 * eval_points + 1)
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            result = jaxrl.train(algorithm, config, run_dir if eval_points else None)
            wall = time.perf_counter() - start
            eval_curve = evaluation_curve(algorithm, config, Path(run_dir), 5) if eval_points else None
        evaluation = jaxrl.evaluate(algorithm, result.state, episodes=eval_episodes, deterministic=True)
        curve = [(r["env_steps"], r["episodic_return"]) for r in result.history]
        runs.append({"seed": seed, "eval": evaluation, "wall_clock_s": wall, "curve": curve,
                     **({"eval_curve": eval_curve} if eval_curve else {})})
        print(f"{name} seed {seed}: eval {evaluation['mean_return']:.1f} ± {evaluation['std_return']:.1f} "
              f"(train window {curve[-1][1]}), {wall:.0f}s", flush=True)
    finals = [r["eval"]["mean_return"] for r in runs]
    passed = sum(value >= threshold for value in finals)
    return {
        "task": name, "algorithm": algorithm, "env": env, "env_steps": steps, "threshold": threshold, "config": overrides,
        "seeds_passed": passed, "seeds": len(seeds), "mean_eval_return": float(np.mean(finals)),
        "runs": runs,
    }


def merge(paths: list[str]) -> None:
    """Merge partial summaries (``--save-partial``) of the same tasks into one result file per task."""
    import json

    by_task: dict[str, dict] = {}
    for path in paths:
        part = json.loads(Path(path).read_text())
        merged = by_task.setdefault(part["task"], {**part, "runs": []})
        merged["runs"].extend(part["runs"])
    for name, summary in by_task.items():
        summary["runs"].sort(key=lambda run: run["seed"])
        finals = [run["eval"]["mean_return"] for run in summary["runs"]]
        summary.update(seeds=len(finals), seeds_passed=sum(v >= summary["threshold"] for v in finals),
                       mean_eval_return=float(np.mean(finals)))
        print(f"== {name}: {summary['seeds_passed']}/{summary['seeds']} seeds >= {summary['threshold']} "
              f"(evals {[round(v, 1) for v in finals]})")
        print("wrote", write_result(f"learning__{name}", summary))
    redraw_learning_plot()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, choices=list(TASKS), help="tasks to train")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per task, one run each")
    parser.add_argument("--eval-episodes", type=int, default=20, help="deterministic evaluation episodes of each final agent")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are FIRST_SEED, FIRST_SEED + 1, ...")
    parser.add_argument("--eval-points", type=int, default=0,
                        help="also evaluate ~N checkpoints per seed (5 episodes each): an evaluation-return curve")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--save-partial", default=None, help="write this run's summary here (for --merge)")
    parser.add_argument("--merge", nargs="+", default=None, help="merge --save-partial files into results")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge)
        return
    for name in args.tasks:
        summary = run_task(name, list(range(args.first_seed, args.first_seed + args.seeds)), args.eval_episodes,
                           args.eval_points)
        print(f"== {name}: {summary['seeds_passed']}/{summary['seeds']} seeds >= {summary['threshold']} "
              f"(mean eval {summary['mean_eval_return']:.1f})", flush=True)
        if args.save_partial:
            import json

            Path(args.save_partial).write_text(json.dumps(summary))
        elif not args.no_write:
            print("wrote", write_result(f"learning__{name}", summary))
    if not args.no_write and not args.save_partial:
        redraw_learning_plot()


def redraw_learning_plot() -> None:
    from report import RESULTS_DIR, load, plot_learning, read_results

    _, tasks, *_ = load(read_results(sorted(RESULTS_DIR.glob("learning__*.json"))))
    print("wrote", plot_learning(tasks, RESULTS_DIR))


if __name__ == "__main__":
    main()
