"""The throughput matrix (algorithm x env backend x num_envs); the same as ``jaxrl bench``.

    python benchmarks/throughput.py --quick     # 6 cells, under 2 minutes on a 2-core CPU
    python benchmarks/throughput.py             # the full matrix
    python benchmarks/throughput.py --cells ppo-mlp:vector_entry_point:256 sac:device:8

See :mod:`jaxrl.bench` for what each column measures. Results go to
``benchmarks/results/throughput__<device>__<date>.json``; ``benchmarks/report.py``
merges them into one table and plots.
"""

import sys
from pathlib import Path

from jaxrl import bench

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--results-dir" not in arguments:
        arguments += ["--results-dir", str(Path(__file__).resolve().parent / "results")]
    sys.exit(bench.main(arguments))
