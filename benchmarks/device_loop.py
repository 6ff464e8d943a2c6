"""Device-loop PPO on phys2d/CartPole-v1: speed against a peer, vmapped seeds, scaling.

    python benchmarks/device_loop.py --peer-python /path/to/venv-with-rejax/bin/python
    python benchmarks/device_loop.py --quick        # a short pass of every section

Sections (all in one run, so ratios are taken on one machine at one time):

* ``single``:  one agent, the issue's config (8 envs x 128 steps, 4 epochs x 4 minibatches,
               100k steps); best of 3 timed runs after compilation; with ``--peer-python``
               rejax's PPO on gymnax CartPole-v1 with the same config (benchmarks/peer_rejax.py)
               and the ratio of the two rates;
* ``env_only``: the vmapped env stepped with random actions inside one scan (the ceiling);
* ``seeds``:   16 seeds in one ``jit(vmap(train))`` call with the preset CartPole config
               (100k steps each): aggregate SPS and every seed's final return;
* ``scaling_envs``:    SPS vs num_envs (8 ... 4096) on one device;
* ``scaling_devices``: SPS vs number of forced CPU devices (fresh processes, 1024 envs).

Writes ``benchmarks/results/device_loop__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

from jaxrl import final_returns, make_train
from jaxrl.agents.ppo import PPOConfig
from jaxrl.distributed import env_mesh  # noqa: F401  (used by the device-scaling subprocesses)
from jaxrl.envs.device import make_device_env

ENV = "phys2d/CartPole-v1"
# The comparison config (PureJaxRL's CartPole settings with 8 envs).
PEER_CONFIG = PPOConfig(env=ENV, total_timesteps=100_352, num_envs=8, num_steps=128, update_epochs=4,
                        num_minibatches=4, learning_rate=2.5e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01,
                        progress=False)


def time_train(config: PPOConfig, num_seeds: int = 1, repeats: int = 3, mesh=None) -> dict:
    """Compile once, then the best of ``repeats`` timed calls of ``jit(vmap(train))``."""
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(make_train("ppo", config, mesh))).lower(keys).compile()
    compile_s = time.perf_counter() - start
    times, result = [], None
    for repeat in range(repeats):
        keys = jax.random.split(jax.random.PRNGKey(repeat), num_seeds)
        start = time.perf_counter()
        result = jax.block_until_ready(compiled(keys))
        times.append(time.perf_counter() - start)
    steps = config.num_updates * config.batch_size
    returns = final_returns(np.asarray(result.metrics["episodic_return"]))
    return {"num_envs": config.num_envs, "num_seeds": num_seeds, "env_steps_per_seed": steps,
            "compile_s": compile_s, "best_s": min(times), "sps_per_seed": steps / min(times),
            "aggregate_sps": steps * num_seeds / min(times),
            "final_returns": [None if np.isnan(r) else float(r) for r in returns]}


def env_only_sps(num_envs: int, steps: int) -> float:
    env = make_device_env(ENV)

    def run(key):
        state, _ = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def step(state, step_key):
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (num_envs,), 0, 2)
            out = jax.vmap(env.step)(state, actions, jax.random.split(env_key, num_envs))
            return out.env_state, out.reward.sum()

        return jax.lax.scan(step, state, jax.random.split(key, steps))[1].sum()

    compiled = jax.jit(run).lower(jax.random.PRNGKey(0)).compile()
    jax.block_until_ready(compiled(jax.random.PRNGKey(0)))
    start = time.perf_counter()
    jax.block_until_ready(compiled(jax.random.PRNGKey(1)))
    return num_envs * steps / (time.perf_counter() - start)


def run_peer(peer_python: str | None, quick: bool) -> dict | None:
    if not peer_python:
        return None
    script = Path(__file__).with_name("peer_rejax.py")
    args = [peer_python, str(script), "--total-timesteps", str(20_480 if quick else PEER_CONFIG.total_timesteps)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def scaling_over_devices(device_counts: list[int], num_envs: int, total: int) -> list[dict]:
    """Each count in a fresh process, since the CPU device count is fixed when JAX starts."""
    rows = []
    for count in device_counts:
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={count}", "JAX_PLATFORMS": "cpu"}
        code = ("import json, sys; sys.path.insert(0, 'benchmarks'); import device_loop as d; "
                f"print(json.dumps(d.time_train(d.scaled_config({num_envs}, {total}), repeats=2, "
                f"mesh=d.env_mesh({count}))))")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900,
                              check=False, cwd=Path(__file__).resolve().parent.parent)
        row = {"devices": count}
        row.update(json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                   {"error": done.stderr.strip()[-500:]})
        rows.append(row)
    return rows


def scaled_config(num_envs: int, total: int) -> PPOConfig:
    """The peer config at ``num_envs`` envs, minibatches of 256 x num_envs / 8 samples."""
    return dataclasses.replace(PEER_CONFIG, num_envs=num_envs, total_timesteps=max(total, num_envs * 128 * 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peer-python", default=None, help="a Python with rejax installed")
    parser.add_argument("--skip-devices", action="store_true", help="skip the forced-device scaling section")
    args = parser.parse_args()
    quick = args.quick
    single_config = dataclasses.replace(PEER_CONFIG, total_timesteps=20_480) if quick else PEER_CONFIG
    results: dict = {"env": ENV, "config": dataclasses.asdict(single_config)}

    results["single"] = time_train(single_config, repeats=2 if quick else 3)
    results["peer"] = run_peer(args.peer_python, quick)
    if results["peer"] and "sps" in results["peer"]:
        results["speedup_vs_peer"] = results["single"]["sps_per_seed"] / results["peer"]["sps"]
    results["env_only_sps_8_envs"] = env_only_sps(8, 2_000 if quick else 12_544)
    print(json.dumps({k: results[k] for k in ("single", "peer", "env_only_sps_8_envs")}, default=str), flush=True)

    seeds_config = PPOConfig(env=ENV, total_timesteps=20_480 if quick else 100_000, progress=False)
    results["seeds"] = time_train(seeds_config, num_seeds=4 if quick else 16, repeats=1)
    print(json.dumps({"seeds": results["seeds"]}), flush=True)

    env_counts = [8, 64] if quick else [8, 64, 256, 1024, 4096]
    total = 65_536 if quick else 1_048_576
    results["scaling_envs"] = []
    for num_envs in env_counts:
        row = time_train(scaled_config(num_envs, total), repeats=2)
        row["env_only_sps"] = env_only_sps(num_envs, max(200, total // num_envs))
        results["scaling_envs"].append(row)
        print(json.dumps(row), flush=True)
    if not args.skip_devices and jax.default_backend() == "cpu":
        results["scaling_devices"] = scaling_over_devices([1, 2, 4], 64 if quick else 1024, total)
        print(json.dumps(results["scaling_devices"]), flush=True)
    print(f"wrote {write_result('device_loop', results)}")


if __name__ == "__main__":
    main()
