"""Replay layouts side by side: memory, and the cost of one add and one sampled batch.

    python benchmarks/replay_layout.py                    # Atari DQN and SAC Pendulum shapes
    python benchmarks/replay_layout.py --capacity 20000 --repeats 300

Three layouts in one process, for the same steps:
- ``transitions``: :mod:`jaxrl.core.replay`, one item per transition with its own next observation
  (the loops' layout before 2026-11-29; today for batches of a user's own);
- ``time-ordered``: :mod:`jaxrl.core.sequence_replay` with whole observations (every non-Atari env);
- ``time-ordered, frames``: the same storing one frame of each Atari stack a row.

Memory is what each allocates for ``--capacity`` items (and, computed without allocating, for 1M).
Add: one jitted, donated add of one vector step (``--num-envs`` envs) into a buffer that has
wrapped around. Sample: one jitted batch (``--batch-size``) as the agents draw it. Medians over
``--repeats`` calls, compile excluded. Writes ``benchmarks/results/replay_layout__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax
import numpy as np
from _meta import write_result

from jaxrl.core import replay, sequence_replay
from jaxrl.types import Transition

SHAPES = {  # observation shape, dtype, action shape and dtype, frames stacked on the last axis
    "atari-dqn": ((84, 84, 4), np.uint8, (), np.int32, 4),
    "sac-pendulum": ((3,), np.float32, (1,), np.float32, 0),
}


def steps_like(shape: str, num_envs: int, count: int, seed: int = 0) -> list[Transition]:
    """``count`` vector steps of random content (episodes of ~100 steps) for ``shape``."""
    obs_shape, obs_dtype, action_shape, action_dtype, _ = SHAPES[shape]
    rng = np.random.default_rng(seed)

    def observation() -> np.ndarray:
        return rng.integers(0, 255, (num_envs, *obs_shape)).astype(obs_dtype)

    return [Transition(obs=observation(), actions=np.zeros((num_envs, *action_shape), action_dtype),
                       rewards=rng.normal(size=num_envs).astype(np.float32),
                       terminated=rng.random(num_envs) < 0.005, truncated=rng.random(num_envs) < 0.005,
                       next_obs=observation(), extras={}) for _ in range(count)]


def layouts(shape: str) -> dict[str, tuple]:
    """``name -> (init(capacity, example), add(buffer, batch), bytes(capacity, example))``."""
    frames = SHAPES[shape][4]
    chosen = {
        "transitions": (replay.replay_init, replay.replay_add,
                        lambda capacity, example: capacity * replay.item_bytes(example)),
        "time-ordered": (sequence_replay.sequence_init, sequence_replay.sequence_add, sequence_replay.sequence_bytes),
    }
    if frames:
        chosen["time-ordered, frames"] = (
            lambda capacity, example: sequence_replay.sequence_init(capacity, example, 1, frames),
            sequence_replay.sequence_add,
            lambda capacity, example: sequence_replay.sequence_bytes(capacity, example, frames))
    return chosen


def median_seconds(call, repeats: int) -> float:
    """Median wall-clock of ``call()`` (which blocks until its result is ready) over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(shape: str, capacity: int, num_envs: int, batch_size: int, repeats: int) -> dict[str, dict]:
    """Memory, add and sample time of each layout for ``shape``."""
    steps = steps_like(shape, num_envs, 64)
    results = {}
    for name, (init, add, size) in layouts(shape).items():
        buffer = jax.jit(init, static_argnums=0)(capacity, steps[0])
        jitted_add = jax.jit(add, donate_argnums=0)
        for index in range(capacity // num_envs + 8):  # wrap around once
            buffer = jitted_add(buffer, steps[index % len(steps)])
        jax.block_until_ready(buffer)
        sample = jax.jit(replay.replay_sample, static_argnums=2)
        keys = iter(jax.random.split(jax.random.PRNGKey(0), repeats + 1))
        jax.block_until_ready(sample(buffer, next(keys), batch_size))

        held = {"buffer": buffer}  # the timed add replaces it (donated), the timed sample reads the newest

        def one_add():
            held["buffer"] = jax.block_until_ready(jitted_add(held["buffer"], steps[0]))

        def one_sample():
            jax.block_until_ready(sample(held["buffer"], next(keys), batch_size))

        add_s = median_seconds(one_add, repeats)
        sample_s = median_seconds(one_sample, repeats)
        allocated = sum(leaf.nbytes for leaf in jax.tree.leaves(held["buffer"]))
        results[name] = {"bytes": allocated, "bytes_computed": size(capacity, steps[0]),
                         "bytes_for_1M": size(1_000_000, steps[0]), "add_us": add_s * 1e6,
                         "sample_us": sample_s * 1e6}
        print(f"{shape:13s} {name:22s} {allocated / 2**20:9.1f} MiB  1M: {size(1_000_000, steps[0]) / 1e9:6.2f} GB  "
              f"add {add_s * 1e6:8.1f} us  sample {sample_s * 1e6:8.1f} us", flush=True)
        del buffer
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES), help="step shapes to measure")
    parser.add_argument("--capacity", type=int, default=50_000, help="items each buffer holds")
    parser.add_argument("--num-envs", type=int, default=1, help="envs per added vector step")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="items per sampled batch (0: the agent's, 32 for Atari DQN and 256 for SAC)")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per measurement (median reported)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    payload = {"capacity": args.capacity, "num_envs": args.num_envs, "repeats": args.repeats, "shapes": {}}
    for shape in args.shapes:
        batch_size = args.batch_size or (32 if shape == "atari-dqn" else 256)
        payload["shapes"][shape] = {"batch_size": batch_size,
                                    "layouts": measure(shape, args.capacity, args.num_envs, batch_size, args.repeats)}
    if not args.no_write:
        print("wrote", write_result("replay_layout", payload))


if __name__ == "__main__":
    main()
