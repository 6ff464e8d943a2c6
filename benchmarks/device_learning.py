"""Learning in the device loop, seeds vmapped in one program: the JAX env suites (Playground, brax)
and the velocity-hidden tasks for recurrent PPO, next to the env's own speed.

    python benchmarks/device_learning.py --tasks ppo-playground-cartpole-balance
    python benchmarks/device_learning.py --tasks ppo-gru-cartpole-novel --seeds 10 --first-seed 0
    python benchmarks/device_learning.py --tasks sac-playground-cartpole-swingup --set batch_size=512

Each task trains all its seeds in one ``jaxrl.run_device`` call (seeds vmapped), from the env's
preset plus the task's overrides, then evaluates each seed's final policy deterministically on
fresh episodes, and times the env alone (random actions, the same number of envs, one jitted
``lax.scan``) so training SPS reads against what the simulator can do. Writes
``benchmarks/results/device_learning__<task>__<device>__<date>.json``: per-seed evaluation returns,
the training curve (mean episodic return per record, per seed) and the env steps at which each
seed's curve first reaches the task's bar, compile and train seconds, training and env-only
steps per second.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _meta import write_result

import jaxrl
from jaxrl.bench.cells import device_env_sps, steps_per_start
from jaxrl.envs.device import make_device_env

MEMORY_CHAIN = {"num_envs": 16, "num_steps": 32, "seq_len": 32, "update_epochs": 4, "num_minibatches": 4,
                "learning_rate": 3e-4, "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.01,
                "lstm_hidden_size": 64, "hidden_sizes": (64,)}
# Picked on this CPU, one seed each (seed 1): at 1,024 envs the gradient steps, not the env steps, set
# the pace. TD3 evaluated -145 after 500 vector steps x 16 gradient steps (8k; at 300 x 16, -361 and
# with 3x the step sizes -404; at 800 x 8, -163); SAC -149 after 800 x 16 (at 500 x 16, -456).
# Batches of 4,096 cost an accelerator about what 256 do.
# (1-step returns, as when the GPU figures were measured; the CPU preset has since taken 5-step ones)
OFF_POLICY_1024 = {"num_envs": 1024, "learning_starts": 10_240, "updates_per_step": 16, "batch_size": 4096,
                   "n_step": 1}
# PPO: Pendulum-v1's preset at 1,024 envs x 64 steps (32 minibatches of 2,048), gamma 0.95: -180 after
# 4M steps (with 32-step rollouts and gamma 0.9: -236).
PPO_PENDULUM_1024 = {"num_envs": 1024, "num_steps": 64, "update_epochs": 10,
                     "num_minibatches": 32, "learning_rate": 1e-3, "gamma": 0.95, "gae_lambda": 0.95,
                     "ent_coef": 0.0, "max_grad_norm": 0.5, "norm_obs": False, "log_std_init": -0.5}
# name -> (algorithm, env id, env steps per seed, bar on the return, overrides of the preset)
TASKS = {
    "ppo-playground-cartpole-balance": ("ppo", "playground/CartpoleBalance", 500_000, 800.0, {}),
    "ppo-playground-cartpole-swingup": ("ppo", "playground/CartpoleSwingup", 1_000_000, 600.0, {}),
    "sac-playground-cartpole-balance": ("sac", "playground/CartpoleBalance", 50_000, 800.0, {}),
    "sac-playground-cartpole-swingup": ("sac", "playground/CartpoleSwingup", 100_000, 600.0, {}),
    "ppo-lstm-cartpole-novel": ("ppo", "jaxrl/CartPole-NoVel-v1", 1_000_000, 400.0, {"policy": "lstm"}),
    "ppo-gru-cartpole-novel": ("ppo", "jaxrl/CartPole-NoVel-v1", 1_000_000, 400.0, {"policy": "gru"}),
    "ppo-mlp-cartpole-novel": ("ppo", "jaxrl/CartPole-NoVel-v1", 1_000_000, 400.0, {"policy": "mlp"}),
    "ppo-lstm-pendulum-novel": ("ppo", "jaxrl/Pendulum-NoVel-v1", 300_000, -400.0, {"policy": "lstm"}),
    "ppo-gru-pendulum-novel": ("ppo", "jaxrl/Pendulum-NoVel-v1", 300_000, -400.0, {"policy": "gru"}),
    # 1,024 envs on gymnasium's JAX pendulum (an accelerator's scale): SAC and TD3 against PPO.
    "sac-pendulum-1024": ("sac", "phys2d/Pendulum-v0", 819_200, -200.0, OFF_POLICY_1024),
    "td3-pendulum-1024": ("td3", "phys2d/Pendulum-v0", 512_000, -200.0, OFF_POLICY_1024),
    "ppo-pendulum-1024": ("ppo", "phys2d/Pendulum-v0", 4_194_304, -200.0, PPO_PENDULUM_1024),
    # The CPU presets as they are (8 envs x 8 updates, 9k steps), and TD3 at 6k steps with scalar
    # against categorical (C51) critics: does the distribution buy env steps?
    "sac-pendulum-preset": ("sac", "phys2d/Pendulum-v0", 9_000, -200.0, {}),
    "td3-pendulum-preset": ("td3", "phys2d/Pendulum-v0", 9_000, -200.0, {}),
    "ddpg-pendulum-preset": ("ddpg", "phys2d/Pendulum-v0", 9_000, -200.0, {}),
    "td3-pendulum-6k": ("td3", "phys2d/Pendulum-v0", 6_000, -200.0, {}),
    "td3-c51-pendulum-6k": ("td3", "phys2d/Pendulum-v0", 6_000, -200.0,
                            {"num_atoms": 51, "v_min": -1600.0, "v_max": 0.0}),
    # PPO's CartPole preset in the device loop (CartPole-v1's: 8 envs x 32 steps, 20 full-batch epochs)
    "ppo-cartpole-preset": ("ppo", "phys2d/CartPole-v1", 100_000, 475.0, {}),
    # The same presets on gymnax's ports of the two envs (jaxrl.envs.twins), which give them to every id
    "ppo-gymnax-cartpole-preset": ("ppo", "gymnax/CartPole-v1", 100_000, 475.0, {}),
    "pqn-gymnax-cartpole-preset": ("pqn", "gymnax/CartPole-v1", 200_000, 475.0, {}),
    "ppo-gymnax-pendulum-preset": ("ppo", "gymnax/Pendulum-v1", 200_000, -250.0, {}),
    "sac-gymnax-pendulum-preset": ("sac", "gymnax/Pendulum-v1", 9_000, -200.0, {}),
    "td3-gymnax-pendulum-preset": ("td3", "gymnax/Pendulum-v1", 9_000, -200.0, {}),
    "ddpg-gymnax-pendulum-preset": ("ddpg", "gymnax/Pendulum-v1", 9_000, -200.0, {}),
    # PPO's --norm-reward (rewards over the running std of the discounted return) against the preset's raw
    # rewards, at the preset's gamma 0.9 and at 0.99 (returns ~10x larger): bar -400 for how fast each learns
    "ppo-pendulum-preset": ("ppo", "phys2d/Pendulum-v0", 200_000, -400.0, {}),
    "ppo-pendulum-norm-reward": ("ppo", "phys2d/Pendulum-v0", 200_000, -400.0, {"norm_reward": True}),
    "ppo-pendulum-gamma99": ("ppo", "phys2d/Pendulum-v0", 200_000, -400.0, {"gamma": 0.99}),
    "ppo-pendulum-gamma99-norm-reward": ("ppo", "phys2d/Pendulum-v0", 200_000, -400.0,
                                         {"gamma": 0.99, "norm_reward": True}),
    # The MinAtar paper's DQN (the preset: 1 env, 100k replay, centered RMSProp, 5M steps). A shorter run keeps
    # its 100k-step epsilon decay with --set total_timesteps=N exploration_fraction=100000/N.
    "dqn-minatar-breakout": ("dqn", "gymnax/Breakout-MinAtar", 5_000_000, 10.0, {}),
    # bsuite's memory chain: a context bit shown on the first step must be recalled at the 6th
    # (+1 right, -1 wrong); a feed-forward policy cannot do better than chance (0).
    "ppo-lstm-memorychain": ("ppo", "gymnax/MemoryChain-bsuite", 200_000, 0.9, {**MEMORY_CHAIN, "policy": "lstm"}),
    "ppo-gru-memorychain": ("ppo", "gymnax/MemoryChain-bsuite", 200_000, 0.9, {**MEMORY_CHAIN, "policy": "gru"}),
    "ppo-mlp-memorychain": ("ppo", "gymnax/MemoryChain-bsuite", 200_000, 0.9, {**MEMORY_CHAIN, "policy": "mlp"}),
}
MAX_CURVE_POINTS = 250


def first_reaching(env_steps: list[int], curve: list[float], bar: float) -> int | None:
    """The first env step at which a training curve reaches ``bar`` (``None``: never)."""
    for steps, value in zip(env_steps, curve, strict=True):
        if np.isfinite(value) and value >= bar:
            return int(steps)
    return None


def env_only_sps(config: Any, num_envs: int) -> float:
    """Env steps per second of ``num_envs`` vmapped envs of ``config.env`` under random actions,
    restarted as ``config``'s run restarts them (compile excluded)."""
    return device_env_sps(make_device_env(config.env), num_envs, steps=200, min_seconds=1.0,
                          steps_per_start=steps_per_start(config))


def run_task(name: str, seeds: int, first_seed: int, episodes: int, extra: dict) -> dict:
    algorithm, env_id, steps, bar, overrides = TASKS[name]
    overrides = {"total_timesteps": steps, **overrides, **extra}
    config = jaxrl.config_for(algorithm, env_id, seed=first_seed, progress=False, **overrides)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = jaxrl.run_device(algorithm, config, num_seeds=seeds, run_dir=Path(folder) / "run")
        wall_s = time.perf_counter() - start
    evaluations = []
    for index in range(seeds):
        evaluation = jaxrl.evaluate(algorithm, result.seed_state(index), episodes=episodes, seed=10_000 + index, deterministic=True)
        evaluations.append(evaluation["mean_return"])
    stride = max(1, len(result.metrics["env_steps"][0]) // MAX_CURVE_POINTS)  # keeps the JSON small
    curve_steps = np.asarray(result.metrics["env_steps"][0])[stride - 1::stride].tolist()
    curves = np.asarray(result.metrics["episodic_return"])[:, stride - 1::stride].tolist()
    summary = result.summary
    return {"task": name, "algorithm": algorithm, "env": env_id, "env_steps_per_seed": summary["env_steps_per_seed"],
            "overrides": overrides, "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
            "num_envs": config.num_envs, "seeds": list(range(first_seed, first_seed + seeds)),
            "bar": bar, "eval_returns": evaluations, "eval_episodes": episodes,
            "mean_eval_return": float(np.mean(evaluations)), "seeds_passed": int(sum(v >= bar for v in evaluations)),
            "curve_first_reaches_bar": [first_reaching(curve_steps, curve, bar) for curve in curves],
            "wall_s": wall_s, "compile_s": summary["compile_s"], "train_s": summary["train_s"],
            "train_sps": summary["aggregate_sps"], "env_only_sps": env_only_sps(config, config.num_envs * seeds),
            "curve_env_steps": curve_steps, "curves": curves}


def parse_overrides(pairs: list[str]) -> dict:
    """``["batch_size=512", "norm_obs=True"]`` -> ``{"batch_size": 512, "norm_obs": True}``."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), help="tasks to train (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per task, trained together in one vmapped run")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are FIRST_SEED, FIRST_SEED + 1, ...")
    parser.add_argument("--episodes", type=int, default=3, help="evaluation episodes per seed")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override config fields")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    for name in args.tasks:
        row = run_task(name, args.seeds, args.first_seed, args.episodes, parse_overrides(args.set))
        print(f"{name}: eval {[round(v, 1) for v in row['eval_returns']]} (mean {row['mean_eval_return']:.1f}, "
              f"{row['seeds_passed']}/{len(row['seeds'])} >= {row['bar']}; curve first at bar: "
              f"{row['curve_first_reaches_bar']}) "
              f"after {row['env_steps_per_seed']} steps/seed; {row['wall_s']:.0f} s wall ({row['compile_s']:.0f} s "
              f"compile); train {row['train_sps']:,.0f} SPS vs env alone {row['env_only_sps']:,.0f} SPS", flush=True)
        if not args.no_write:
            print("wrote", write_result(f"device_learning__{name}", row))


if __name__ == "__main__":
    main()
