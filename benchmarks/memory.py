"""Host-loop memory over a long run: resident set size (RSS) of PPO on CartPole-v1 for 1M env steps.

    python benchmarks/memory.py                      # 1M steps (the committed figure)
    python benchmarks/memory.py --total-timesteps 100000

A thread samples this process's RSS every ``--interval`` seconds while ``jaxrl.train``
runs (early stopping off, checkpoints every 50 updates as by default). The result
file holds the samples, the RSS once the run is warm (after 20% of the steps), its
range from there to the end, and the least-squares trend over that stretch in MB
per million env steps: a leak shows as a steady positive trend, a flat run as ~0.
Writes ``benchmarks/results/memory__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _meta import write_result

import jaxrl


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler(threading.Thread):
    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval, self.samples, self.start_time = interval, [], time.perf_counter()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter() - self.start_time, rss_bytes()))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-timesteps", type=int, default=1_000_000, help="env steps of the PPO run")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between RSS samples")
    args = parser.parse_args()
    config = jaxrl.config_for("ppo", "CartPole-v1", total_timesteps=args.total_timesteps, target_return=None,
                              patience=None, progress=False)
    sampler = RssSampler(args.interval)
    sampler.start()
    train_start = time.perf_counter() - sampler.start_time
    with tempfile.TemporaryDirectory() as run_dir:
        result = jaxrl.train("ppo", config, run_dir)
    sampler.stop()
    history = result.history
    # Map each sample to env steps through the history's wall-clock stamps.
    stamps = [(train_start + r["time_s"], r["env_steps"]) for r in history]

    def steps_at(t: float) -> int:
        done = [steps for stamp, steps in stamps if stamp <= t]
        return done[-1] if done else 0

    samples = [{"time_s": round(t, 2), "env_steps": steps_at(t), "rss_mb": round(rss / 2**20, 1)}
               for t, rss in sampler.samples]
    # Warm = past the first 20% of the steps (compile caches, allocator pools and a transient
    # peak while XLA's thread pools settle are behind by then); the trend is a least-squares
    # line through every later sample.
    warm_steps = args.total_timesteps // 5
    later = [s for s in samples if s["env_steps"] >= warm_steps]
    slope_mb_per_step = float(np.polyfit([s["env_steps"] for s in later], [s["rss_mb"] for s in later], 1)[0])
    summary = {
        "env_steps": history[-1]["env_steps"],
        "updates": len(history),
        "rss_mb_after_warmup": later[0]["rss_mb"],
        "rss_mb_at_end": later[-1]["rss_mb"],
        "rss_mb_peak": max(s["rss_mb"] for s in samples),
        "rss_mb_min_after_warmup": min(s["rss_mb"] for s in later),
        "rss_mb_max_after_warmup": max(s["rss_mb"] for s in later),
        "rss_trend_mb_per_million_steps": round(slope_mb_per_step * 1e6, 2),
        "final_episodic_return": history[-1]["episodic_return"],
    }
    path = write_result("memory", {"benchmark": "host-loop RSS, PPO CartPole-v1", "config": {
        "algorithm": "ppo", "env": config.env, "total_timesteps": config.total_timesteps,
        "num_envs": config.num_envs, "num_steps": config.num_steps, "sample_interval_s": args.interval},
        "summary": summary, "samples": samples})
    print(summary)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
