#!/usr/bin/env bash
# The value-based/off-policy issue's GPU figures in one device call (run from the repository root):
#   SAC and TD3 at 1,024 envs on phys2d/Pendulum-v0 against PPO at 1,024 envs on the same env
#   (benchmarks/device_learning.py's *-pendulum-1024 tasks, 3 seeds vmapped each), then jaxrl's PQN
#   next to rejax's on Breakout-MinAtar (benchmarks/peer_rejax_pqn.py), then PPO against rejax's PPO
#   there with gymnax's published config (benchmarks/peer_rejax_minatar_ppo.py), then jaxrl's PQN MinAtar
#   preset next to purejaxql's own code, 10M steps (benchmarks/peer_purejaxql_pqn.py; needs .whl/purejaxql,
#   see fetch_gpu_wheels.sh), after nn.Conv against jaxrl's Conv3x3 (benchmarks/conv_speed.py: whether
#   the product that is faster on XLA:CPU is also no slower on the GPU). JSON files go to $OUT.
#   PARTS picks some of "pendulum pqn minatar-ppo pqn-minatar" (default: all); arguments go to
#   device_learning.py.
# Wheels as in gpu_figures.sh; jaxrl's gymnax suite needs gymnax 1.x (.whl/jaxrl_side/, first on
# jaxrl's path), rejax 0.1.3 needs gymnax 0.0.9 (.whl/, the only one on rejax's path).
set -uo pipefail
DEFAULT_PARTS="pendulum pqn minatar-ppo pqn-minatar"
source benchmarks/gpu_common.sh
pip_target /tmp/site .whl/*.whl && pip_target /tmp/site_jaxrl .whl/jaxrl_side/*.whl || exit 1
export PYTHONPATH=/tmp/site_jaxrl:/tmp/site:$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.45
printf '#!/bin/sh\nPYTHONPATH=/tmp/site exec python3 "$@"\n' > /tmp/peer_python && chmod +x /tmp/peer_python
nvidia-smi --query-gpu=name,memory.total --format=csv
has pendulum && python3 benchmarks/device_learning.py --tasks ${TASKS:-td3-pendulum-1024 sac-pendulum-1024 ppo-pendulum-1024} \
  --seeds 3 --episodes 10 "$@" 2>&1 | grep -v Warning | tee "$out/device_learning.log"
copy_results
has pqn && python3 benchmarks/peer_rejax_pqn.py --peer-python /tmp/peer_python --seeds 0 1 2 2>&1 \
  | tee "$out/peer_rejax_pqn.log"
copy_results
has minatar-ppo && python3 benchmarks/peer_rejax_minatar_ppo.py --peer-python /tmp/peer_python --seeds 3 2>&1 \
  | grep -v Warning | tee "$out/peer_rejax_minatar_ppo.log"
copy_results
has pqn-minatar && python3 benchmarks/conv_speed.py --seeds 1 3 128 2>&1 | grep -v Warning | tee "$out/conv_speed.log"
has pqn-minatar && python3 benchmarks/peer_purejaxql_pqn.py --peer-python /tmp/peer_python --purejaxql .whl/purejaxql \
  --seeds 3 2>&1 | grep -v Warning | tee "$out/peer_purejaxql_pqn.log"
copy_results
ls -la "$out"
