"""Host-loop throughput of PPO: raw env rate, acting rate and training SPS, in one process.

    python benchmarks/throughput.py            # the foundation's cells
    python benchmarks/throughput.py --quick    # short, for CI-like checks

For each cell (vectorisation mode x num_envs) it measures, one after the other:

* ``env_sps``:    the vector env stepped with pre-drawn random actions;
* ``act_sps``:    rollouts collected with the jitted policy (env + act), no learning;
* ``train_sps``:  the real ``ppo.train`` loop, timed from the end of its first update
                  (so compilation is excluded; ``compile_s`` reports it separately).

Ratios (``train/act``, ``act/env``) are taken within one run because this machine is
shared and noisy. Writes ``benchmarks/results/throughput__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

import jaxrl
from jaxrl import ppo
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.loops.host import EpisodeTracker, collect_rollout

# CleanRL-style PPO settings for throughput (not the tuned CartPole preset).
BENCH_CONFIG = dict(env="CartPole-v1", num_steps=128, update_epochs=4, num_minibatches=4, hidden_sizes=(64, 64),
                    learning_rate=2.5e-4, progress=False, checkpoint_every=0)
CELLS = [("sync", 8), ("vector_entry_point", 8), ("vector_entry_point", 64), ("async", 8)]


def env_rate(vectorization: str, num_envs: int, steps: int) -> float:
    env = HostVectorEnv(make_vector_env("CartPole-v1", num_envs, vectorization))
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, (steps, num_envs))
    for t in range(min(100, steps)):  # warm up (async workers)
        env.step(actions[t])
    start = time.perf_counter()
    for t in range(steps):
        env.step(actions[t])
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def act_rate(config: ppo.PPOConfig, rollouts: int) -> float:
    env = HostVectorEnv(make_vector_env(config.env, config.num_envs, config.vectorization))
    state = ppo.init(jax.random.PRNGKey(0), env.spec, config)
    obs, tracker, key = env.reset(seed=0), EpisodeTracker(env.num_envs), jax.random.PRNGKey(1)
    rollout, obs = collect_rollout(env, ppo, state, obs, key, config.num_steps, tracker)  # compile
    start = time.perf_counter()
    for i in range(rollouts):
        rollout, obs = collect_rollout(env, ppo, state, obs, jax.random.fold_in(key, i), config.num_steps,
                                       tracker)
    jax.block_until_ready(rollout.values)
    elapsed = time.perf_counter() - start
    env.close()
    return rollouts * config.batch_size / elapsed


def train_rate(config: ppo.PPOConfig) -> tuple[float, float, float]:
    """(steady training SPS, seconds of the first update, seconds of a steady update)."""
    history = ppo.train(config).history
    first, last = history[0], history[-1]
    steady = (last["env_steps"] - first["env_steps"]) / (last["time_s"] - first["time_s"])
    per_update = (last["time_s"] - first["time_s"]) / (len(history) - 1)
    return steady, first["time_s"], per_update


def run_cell(vectorization: str, num_envs: int, updates: int) -> dict:
    config = dataclasses.replace(ppo.PPOConfig(**BENCH_CONFIG), vectorization=vectorization, num_envs=num_envs)
    config = dataclasses.replace(config, total_timesteps=config.batch_size * updates)
    env_sps = env_rate(vectorization, num_envs, steps=max(2000, updates * config.num_steps))
    act_sps = act_rate(config, rollouts=max(2, updates // 2))
    train_sps, first_update_s, steady_update_s = train_rate(config)
    return {
        "algorithm": "ppo-mlp", "env": config.env, "vectorization": vectorization, "num_envs": num_envs,
        "num_steps": config.num_steps, "update_epochs": config.update_epochs,
        "num_minibatches": config.num_minibatches, "updates": updates,
        "env_sps": env_sps, "act_sps": act_sps, "train_sps": train_sps,
        "train_over_act": train_sps / act_sps, "act_over_env": act_sps / env_sps,
        "compile_s": first_update_s - steady_update_s,
    }


def off_policy_run(algorithm: str, total_timesteps: int) -> dict:
    """One Pendulum run: 1 env, 256x256 nets, batch 256, 1,000 random steps, one gradient step per env step."""
    config = jaxrl.config_for(algorithm, "Pendulum-v1", total_timesteps=total_timesteps, learning_starts=1_000,
                              hidden_sizes=(256, 256), batch_size=256, updates_per_step=1, num_envs=1,
                              progress=False, log_every=1_000)
    start = time.perf_counter()
    history = jaxrl.train(algorithm, config).history
    wall = time.perf_counter() - start
    learning = [r for r in history if r["env_steps"] > 2_000]  # after the random phase and the first compile
    steady = (learning[-1]["env_steps"] - learning[0]["env_steps"]) / (learning[-1]["time_s"] - learning[0]["time_s"])
    return {"algorithm": algorithm, "env": "Pendulum-v1", "num_envs": 1, "hidden_sizes": [256, 256],
            "batch_size": 256, "learning_starts": 1_000, "updates_per_step": 1, "total_timesteps": total_timesteps,
            "train_sps": steady, "whole_run_s": wall, "final_return": history[-1]["episodic_return"]}


def main_off_policy(args: argparse.Namespace) -> None:
    steps = 4_000 if args.quick else 20_000
    rows = []
    print(f"device: {jax.devices()[0].device_kind}\n{'algorithm':<10}{'train SPS':>12}{'whole run s':>13}")
    for algorithm in ("ddpg", "td3", "sac"):
        row = off_policy_run(algorithm, steps)
        rows.append(row)
        print(f"{algorithm:<10}{row['train_sps']:>12,.0f}{row['whole_run_s']:>13.1f}", flush=True)
    if not args.no_write:
        print("wrote", write_result("throughput_offpolicy", {"benchmark": "throughput_offpolicy", "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few updates per cell")
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--cells", nargs="+", default=None, help="MODE:NUM_ENVS, e.g. sync:8 vector_entry_point:64")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--off-policy", action="store_true",
                        help="DDPG/TD3/SAC on Pendulum-v1 (1 env, 256x256, batch 256, UTD 1) instead of PPO")
    args = parser.parse_args()
    if args.off_policy:
        main_off_policy(args)
        return
    cells = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cells] if args.cells else CELLS
    updates = 6 if args.quick else args.updates
    rows = []
    header = f"{'backend':<20}{'envs':>6}{'env SPS':>12}{'act SPS':>12}{'train SPS':>12}{'train/act':>11}" \
             f"{'act/env':>9}{'compile s':>11}"
    print(f"device: {jax.devices()[0].device_kind}\n{header}")
    for vectorization, num_envs in cells:
        row = run_cell(vectorization, num_envs, updates)
        rows.append(row)
        print(f"{vectorization:<20}{num_envs:>6}{row['env_sps']:>12,.0f}{row['act_sps']:>12,.0f}"
              f"{row['train_sps']:>12,.0f}{row['train_over_act']:>11.2f}{row['act_over_env']:>9.2f}"
              f"{row['compile_s']:>11.2f}", flush=True)
    if not args.no_write:
        print("wrote", write_result("throughput", {"benchmark": "throughput", "quick": args.quick, "rows": rows}))


if __name__ == "__main__":
    main()
