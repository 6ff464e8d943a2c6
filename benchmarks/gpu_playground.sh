#!/usr/bin/env bash
# The env-suites issue's Playground figures in one device call (run from the repository root): jaxrl's
# PPO next to Playground's own brax PPO trainer with Playground's published configs
# (benchmarks/peer_playground.py; arguments go to it). JSON and the log go to $OUT.
# Wheels: .whl/*.whl (gymnasium, tensorboardX, ...) and .whl/playground/*.whl (mujoco, mujoco-mjx,
# playground, brax and the few of their needs the GPU image lacks), fetched on the CPU machine by
# bash benchmarks/fetch_gpu_wheels.sh. MuJoCo Warp (warp-lang, 149 MB) is
# not carried: MJX's JAX implementation runs without it (MJX prints "Failed to import warp" and goes on).
# Locomotion without network (Playground's robots need MuJoCo Menagerie from GitHub): brax's ant with
# brax's published config against brax's trainer, e.g.
#   bash benchmarks/gpu_playground.sh --tasks brax/ant --total-timesteps 50000000 --num-evals 10
# (first a short version, e.g. --total-timesteps 3276800 --num-evals 3, to see that it fits the call).
set -uo pipefail
source benchmarks/gpu_common.sh
pip_target /tmp/site .whl/*.whl .whl/playground/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 benchmarks/peer_playground.py "$@" 2>&1 | grep -v -e Warning -e "Failed to import" | tee "$out/peer_playground.log"
copy_results
ls -la "$out"
