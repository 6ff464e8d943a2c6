"""Device-loop PPO against rejax's PPO, row by row, in one run on one machine.

    python benchmarks/device_loop.py --peer-python /path/to/venv-with-rejax/bin/python
    python benchmarks/device_loop.py --quick          # two small rows, a minute on a CPU

Every row trains PPO on ``phys2d/CartPole-v1`` with the peer's config (64x64 tanh MLPs,
4 epochs x 4 minibatches, lr 2.5e-4 annealed, PureJaxRL's CartPole settings) and, with
``--peer-python``, rejax 0.1.3's PPO on gymnax CartPole-v1 with the same sizes
(benchmarks/peer_rejax.py, in its own process). Both are timed alike: ahead-of-time compile
(tracing included), then the best of ``--repeats`` calls; one seed is ``jit(train)``, several
are ``jit(vmap(train))``. Each row also times the env alone (random actions, one scan): the
ceiling. With ``--sb3-python``, Stable-Baselines3's PPO (benchmarks/peer_sb3.py: its host loop,
same config, gymnasium CartPole-v1) is timed on the single-agent rows. The rows are the throughput
issue's table, at the sizes the device allows (CPU: up to 1,024 envs and 16 seeds; GPU: the
issue's sizes); the recurrent rows have no peer and are reported against the feed-forward row of
the same size.

Writes ``benchmarks/results/device_loop__<device>__<date>.json``; ``benchmarks/report.py`` shows
the ratios in REPORT.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import FORCE_HELP, RESULTS_DIR, force_platform_choices, run_peer_script, write_result

from jaxrl import final_returns, make_train
from jaxrl.agents.ppo import PPOConfig
from jaxrl.bench.cells import device_env_sps
from jaxrl.core.platform import seed_batched_lowering
from jaxrl.envs.device import make_device_env

ENV = "phys2d/CartPole-v1"
PEER_CONFIG = PPOConfig(env=ENV, total_timesteps=100_352, num_envs=8, num_steps=128, update_epochs=4,
                        num_minibatches=4, learning_rate=2.5e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01,
                        progress=False)


@dataclasses.dataclass(frozen=True)
class Row:
    """One comparison: an env count, a rollout length, env steps per seed, seeds trained together."""

    num_envs: int
    num_steps: int
    total_timesteps: int  # per seed
    num_seeds: int = 1
    policy: str = "mlp"  # "lstm"/"gru": full-rollout BPTT, no peer

    @property
    def name(self) -> str:
        seeds = f"{self.num_seeds} seeds x " if self.num_seeds > 1 else ""
        return f"{self.policy} {seeds}{self.num_envs}x{self.num_steps}"

    def config(self) -> PPOConfig:
        recurrent = {"seq_len": self.num_steps} if self.policy != "mlp" else {}
        return dataclasses.replace(PEER_CONFIG, num_envs=self.num_envs, num_steps=self.num_steps,
                                   total_timesteps=self.total_timesteps, policy=self.policy, **recurrent)


CPU_ROWS = (Row(8, 128, 100_352), Row(256, 64, 1_048_576), Row(1024, 64, 2_097_152),
            Row(4, 128, 100_352, num_seeds=16), Row(256, 64, 524_288, policy="lstm"),
            Row(256, 64, 524_288, policy="gru"))
GPU_ROWS = (Row(8, 128, 100_352), Row(2048, 64, 40_108_288), Row(8192, 64, 100_663_296),
            Row(32768, 64, 201_326_592), Row(4, 128, 500_224, num_seeds=128),
            Row(2048, 64, 8_388_608, policy="lstm"), Row(2048, 64, 8_388_608, policy="gru"))
QUICK_ROWS = (Row(8, 128, 20_480), Row(4, 128, 20_480, num_seeds=4))


def time_train(config: PPOConfig, num_seeds: int = 1, repeats: int = 3) -> dict:
    """Compile ahead of time, then the best of ``repeats`` calls (new keys each)."""
    train = make_train("ppo", config)
    jitted = jax.jit(train if num_seeds == 1 else jax.vmap(train))

    def keys(seed: int) -> jax.Array:
        key = jax.random.PRNGKey(seed)
        return key if num_seeds == 1 else jax.random.split(key, num_seeds)

    start = time.perf_counter()
    with seed_batched_lowering(num_seeds > 1):  # as run_device lowers its vmapped programs
        compiled = jitted.lower(keys(0)).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(keys(0)))  # first call: buffer allocation stays out of the timing
    times, result = [], None
    for repeat in range(1, repeats + 1):
        start = time.perf_counter()
        result = jax.block_until_ready(compiled(keys(repeat)))
        times.append(time.perf_counter() - start)
    steps = config.num_updates * config.batch_size
    returns = np.asarray(result.metrics["episodic_return"])
    returns = final_returns(returns if num_seeds > 1 else returns[None])
    return {"env_steps_per_seed": steps, "num_seeds": num_seeds, "compile_s": compile_s, "best_s": min(times),
            "aggregate_sps": steps * num_seeds / min(times),
            "final_returns": [None if np.isnan(r) else round(float(r), 1) for r in returns]}


def run_peer(peer_python: str, row: Row, repeats: int) -> dict:
    """rejax on ``row`` in a fresh process: its JSON line, or ``{"error": last line of stderr}``."""
    return run_peer_script([peer_python, str(Path(__file__).with_name("peer_rejax.py")), "--num-envs",
                            str(row.num_envs), "--num-steps", str(row.num_steps), "--total-timesteps",
                            str(row.total_timesteps), "--num-seeds", str(row.num_seeds), "--repeats", str(repeats)],
                           timeout_s=1200)


def run_sb3(sb3_python: str, row: Row, repeats: int) -> dict:
    """Stable-Baselines3's PPO on ``row`` (one agent) in a fresh process: its JSON line, or ``{"error": ...}``.
    Each timed call runs at least 8,192 env steps (whole rollouts)."""
    rollouts = max(1, 8192 // (row.num_envs * row.num_steps))
    return run_peer_script([sb3_python, str(Path(__file__).with_name("peer_sb3.py")), "--num-envs", str(row.num_envs),
                            "--num-steps", str(row.num_steps), "--rollouts", str(rollouts), "--repeats", str(repeats)],
                           timeout_s=1200)


def measure_row(row: Row, peer_python: str | None, repeats: int, rounds: int = 1, sb3_python: str | None = None) -> dict:
    """jaxrl, the peers (feed-forward rows; SB3 for one agent only) and the env alone on one row.

    With ``rounds > 1`` jaxrl and the peer take turns ``rounds`` times, so a slow spell of this
    shared machine falls on both sides; each side's fastest round gives its SPS. Compile times
    come from the first round: later jaxrl rounds reuse traces in this process, while every peer
    round is a fresh process."""
    env = make_device_env(ENV)
    jaxrl_rounds, peer_rounds, sb3_rounds = [], [], []
    for _ in range(rounds):
        jaxrl_rounds.append(time_train(row.config(), row.num_seeds, repeats))
        if peer_python and row.policy == "mlp":
            peer_rounds.append(run_peer(peer_python, row, repeats))
        if sb3_python and row.policy == "mlp" and row.num_seeds == 1:
            sb3_rounds.append(run_sb3(sb3_python, row, repeats))
    result = {"row": row.name, **dataclasses.asdict(row),
              "jaxrl": {**fastest(jaxrl_rounds), "compile_s": jaxrl_rounds[0]["compile_s"]}}
    result["env_only_sps"] = device_env_sps(env, row.num_envs * row.num_seeds, max(64, 262_144 // row.num_envs), 1.0)
    if rounds > 1:
        result["rounds_best_s"] = {"jaxrl": [r["best_s"] for r in jaxrl_rounds],
                                   "peer": [r.get("best_s") for r in peer_rounds]}
    for side, ratio_name, side_rounds in (("peer", "sps_ratio", peer_rounds), ("sb3", "sb3_sps_ratio", sb3_rounds)):
        if side_rounds:
            result[side] = best_peer_round(side_rounds)
            if "aggregate_sps" in result[side]:
                result[ratio_name] = result["jaxrl"]["aggregate_sps"] / result[side]["aggregate_sps"]
    if "compile_s" in result.get("peer", {}):
        result["compile_ratio"] = result["jaxrl"]["compile_s"] / result["peer"]["compile_s"]
    return result


def fastest(measurements: list[dict]) -> dict:
    """The measurement with the shortest ``best_s``."""
    return min(measurements, key=lambda measurement: measurement["best_s"])


def best_peer_round(rounds: list[dict]) -> dict:
    """A peer's fastest timed round, with the first timed round's compile time where it has one (as jaxrl's);
    the first round's ``{"error": ...}`` when no round was timed."""
    timed = [r for r in rounds if "aggregate_sps" in r]
    if not timed:
        return rounds[0]
    return {**fastest(timed), **({"compile_s": timed[0]["compile_s"]} if "compile_s" in timed[0] else {})}


def side_sps(side: dict) -> str:
    """A peer's SPS for the table, or its error, or ``-`` when it did not run."""
    return f"{side['aggregate_sps']:,.0f}" if "aggregate_sps" in side else side.get("error", "-")


def table(rows: list[dict]) -> str:
    """A markdown table of the rows measured so far."""
    lines = ["| row | jaxrl SPS | rejax SPS | jaxrl / rejax | compile jaxrl / rejax (s) | SB3 SPS | jaxrl / SB3 "
             "| env alone SPS |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peer = r.get("peer", {})
        ratio = f"{r['sps_ratio']:.2f}" if "sps_ratio" in r else "-"
        compile_peer = f" / {peer['compile_s']:.1f}" if "compile_s" in peer else ""
        sb3_ratio = f"{r['sb3_sps_ratio']:.1f}" if "sb3_sps_ratio" in r else "-"
        lines.append(f"| {r['row']} | {r['jaxrl']['aggregate_sps']:,.0f} | {side_sps(peer)} | {ratio} | "
                     f"{r['jaxrl']['compile_s']:.1f}{compile_peer} | {side_sps(r.get('sb3', {}))} | {sb3_ratio} "
                     f"| {r['env_only_sps']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small rows (a smoke test of the script)")
    parser.add_argument("--peer-python", default=None, help="a Python with rejax 0.1.3 and gymnax 0.0.9")
    parser.add_argument("--sb3-python", default=None,
                        help="a Python with stable-baselines3: its PPO on the single-agent rows (benchmarks/peer_sb3.py)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per row after compilation (best kept)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="jaxrl and the peer take turns this many times per row (fastest round kept)")
    parser.add_argument("--rows", type=int, nargs="*", default=None, help="indices of the rows to run (default all)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON file goes")
    parser.add_argument("--force", action="append", default=[], metavar="NAME=VALUE", help=FORCE_HELP)
    args = parser.parse_args()
    forced = force_platform_choices(args.force)
    rows = QUICK_ROWS if args.quick else CPU_ROWS if jax.default_backend() == "cpu" else GPU_ROWS
    rows = [rows[i] for i in args.rows] if args.rows is not None else list(rows)
    results, path = [], None
    for row in rows:
        results.append(measure_row(row, args.peer_python, args.repeats, args.rounds, args.sb3_python))
        print(json.dumps(results[-1]), flush=True)
        # Rewritten after every row, so a run stopped part-way keeps the rows it measured.
        path = write_result("device_loop", {"env": ENV, "peer_config": dataclasses.asdict(PEER_CONFIG),
                                            "forced": forced, "rows": results}, args.results_dir, path)
    print(table(results))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
