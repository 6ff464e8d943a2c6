#!/usr/bin/env bash
# The throughput issue's GPU figures in one device call (run from the repository root):
#   every GPU row of benchmarks/device_loop.py against rejax in the same Python, then the
#   per-piece profile; the JSON files are copied to $OUT. RECURRENT_ONLY=1 runs
#   benchmarks/recurrent_speed.py at 2,048 envs instead, e.g.
#   RECURRENT_ONLY=1 bash benchmarks/gpu_figures.sh --rows mlp gru-64 gru-64-shared gru-32-shared
# The GPU image has jax, flax, optax, chex but not gymnasium, tensorboardX, rejax or gymnax: their
# wheels travel in .whl/ (bash benchmarks/fetch_gpu_wheels.sh on the CPU machine; carry: [".whl"])
# and install to /tmp/site.
set -uo pipefail
source benchmarks/gpu_common.sh
pip_target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
# jaxrl and rejax run in two processes at once: each takes under half of the GPU's memory.
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.45
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
# The JSON goes straight to $out, rewritten after every row: a call stopped at its limit keeps them.
if [ -n "${RECURRENT_ONLY:-}" ]; then  # the recurrent issue's rows instead (args: recurrent_speed.py's)
  python3 benchmarks/recurrent_speed.py --num-envs 2048 --results-dir "$out" "$@" 2>&1 | tee "$out/recurrent.log"
else
  python3 benchmarks/device_loop.py --peer-python python3 --results-dir "$out" "$@" 2>&1 | tee "$out/device_loop.log"
  [ -z "${SKIP_PROFILE:-}" ] && python3 benchmarks/profile_ppo.py --repeats 20 2>&1 | tee "$out/profile_ppo.log"
fi
copy_results
ls -la "$out"
