"""Recurrent PPO's device-loop speed against the feed-forward PPO of the same size, in one run.

    python benchmarks/recurrent_speed.py                    # CPU: 256 envs x 64 steps
    python benchmarks/recurrent_speed.py --num-envs 2048    # a GPU: the recurrent issue's row

Every row trains PPO on ``phys2d/CartPole-v1`` with the device-loop benchmark's config
(``benchmarks/device_loop.py``: 4 epochs x 4 minibatches, lr 2.5e-4) at ``--num-envs`` x 64
steps; the recurrent rows use full-rollout BPTT (``seq_len`` 64). Architectures:

* ``mlp``: the 64x64 tanh MLP actor and critic (the rate the recurrent rows are compared to);
* ``lstm-128``/``gru-128``: a 128-wide cell, then the 64x64 dense layers (the default sizes);
* ``lstm-64``/``gru-64``: a 64-wide cell, then one 64 dense layer: the MLP with its first layer
  made recurrent, the sizes of the earlier velocity-hidden presets;
* ``gru-64-shared``/``gru-32-shared``: one cell shared by actor and critic, then a 64 dense layer
  each; ``gru-32-shared`` is the network of the velocity-hidden presets.

``--force project_inputs_first=on|off`` (or ``recurrent_scan_unroll=N``)
overrides a backend choice of :mod:`jaxrl.core.platform`, to measure both sides on one machine.
Timing: ahead-of-time compile, then the best of ``--repeats`` calls (``device_loop.time_train``).
Writes ``benchmarks/results/recurrent_speed__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import FORCE_HELP, RESULTS_DIR, force_platform_choices, write_result
from device_loop import PEER_CONFIG, time_train

from jaxrl.core import platform

ARCHITECTURES = {
    "mlp": {},
    "lstm-128": {"policy": "lstm", "lstm_hidden_size": 128, "hidden_sizes": (64, 64)},
    "gru-128": {"policy": "gru", "lstm_hidden_size": 128, "hidden_sizes": (64, 64)},
    "lstm-64": {"policy": "lstm", "lstm_hidden_size": 64, "hidden_sizes": (64,)},
    "gru-64": {"policy": "gru", "lstm_hidden_size": 64, "hidden_sizes": (64,)},
    "gru-64-shared": {"policy": "gru", "lstm_hidden_size": 64, "hidden_sizes": (64,), "shared_lstm": True},
    "gru-32-shared": {"policy": "gru", "lstm_hidden_size": 32, "hidden_sizes": (64,), "shared_lstm": True},
}
NUM_STEPS = 64


def row_config(architecture: str, num_envs: int, updates: int):
    """The PPO config of one row: ``updates`` updates of ``num_envs`` x 64 steps."""
    values = dict(ARCHITECTURES[architecture])
    if "policy" in values:
        values["seq_len"] = NUM_STEPS
    return dataclasses.replace(PEER_CONFIG, num_envs=num_envs, num_steps=NUM_STEPS,
                               total_timesteps=updates * num_envs * NUM_STEPS, **values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=256, help="parallel envs of every row")
    parser.add_argument("--updates", type=int, default=8, help="PPO updates per timed call")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per row after compilation (best kept)")
    parser.add_argument("--rows", nargs="*", default=list(ARCHITECTURES), choices=list(ARCHITECTURES),
                        help="architectures to run (mlp first: the others are reported against it)")
    parser.add_argument("--force", action="append", default=[], metavar="NAME=VALUE", help=FORCE_HELP)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON file goes")
    args = parser.parse_args()
    forced = force_platform_choices(args.force)
    rows, path, feed_forward_sps = [], None, None
    for architecture in args.rows:
        result = time_train(row_config(architecture, args.num_envs, args.updates), 1, args.repeats)
        row = {"architecture": architecture, "num_envs": args.num_envs, "num_steps": NUM_STEPS,
               "project_inputs_first": platform.project_inputs_first(),
               "recurrent_scan_unroll": platform.recurrent_scan_unroll(NUM_STEPS), "forced": forced, **result}
        if architecture == "mlp":
            feed_forward_sps = result["aggregate_sps"]
        elif feed_forward_sps:
            row["fraction_of_mlp"] = result["aggregate_sps"] / feed_forward_sps
        rows.append(row)
        print(json.dumps(row), flush=True)
        path = write_result("recurrent_speed", {"rows": rows}, args.results_dir, path)
    for row in rows:
        fraction = f" ({row['fraction_of_mlp']:.1%} of mlp)" if "fraction_of_mlp" in row else ""
        print(f"{row['architecture']:>9}: {row['aggregate_sps']:>13,.0f} SPS{fraction}, "
              f"compile {row['compile_s']:.1f} s")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
