#!/usr/bin/env bash
# The open issues' GPU figures, most wanted first, in ONE device call (run from the repository root;
# carry: [".whl"], fetched here first by bash benchmarks/fetch_gpu_wheels.sh).
#
# A session is lent a GPU for 15 minutes in all, a call runs at most 10, and a machine takes minutes
# to start, so one call has to carry everything. The wheels install once; then each part runs with
# what is left of BUDGET_S (default 540 s, under the call's 600 s limit) and is stopped at that
# deadline. Every script writes its JSON as it goes (after each row or side), so a stopped part keeps
# its finished rows; all JSON and logs go to $OUT.
#   1. recurrent   the recurrent issue's speed row (18): MLP and GRU rows at 2,048 envs x 64 steps
#   2. ant         the suites issue's locomotion bullet (15): brax's ant with brax's published config,
#                  jaxrl then brax's own trainer, 10 updates each (a first learning point, and whether
#                  50M steps fit a later call)
#   3. conv        whether Conv3x3 (faster than nn.Conv on XLA:CPU) is no slower on the GPU (14/15)
#   4. cartpole    Playground's CartpoleBalance beside brax's trainer again (15), now that jaxrl draws
#                  start states once per rollout (fresh_starts="rollout"; 73k -> 99-102k SPS on a CPU)
# PARTS picks some of them, e.g. PARTS="ant conv" bash benchmarks/gpu_next.sh
set -uo pipefail
DEFAULT_PARTS="recurrent ant conv cartpole"
source benchmarks/gpu_common.sh
budget_s=${BUDGET_S:-540}
pip_target /tmp/site .whl/*.whl .whl/playground/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
# run NAME CMD...: CMD with the seconds left until the deadline (none left: skipped, and said so)
run() {
  local name=$1 left=$((budget_s - SECONDS))
  shift
  if [ "$left" -lt 20 ]; then echo "gpu_next: $name skipped, ${left} s left" | tee -a "$out/gpu_next.log"; return; fi
  echo "gpu_next: $name, ${left} s left" | tee -a "$out/gpu_next.log"
  timeout -k 5 "$left" "$@" 2>&1 | grep -v -e Warning -e "Failed to import" | tee "$out/$name.log"
  echo "gpu_next: $name ended (exit ${PIPESTATUS[0]}) at ${SECONDS} s" | tee -a "$out/gpu_next.log"
  copy_results
}
has recurrent && run recurrent python3 benchmarks/recurrent_speed.py --num-envs 2048 --results-dir "$out" \
  --rows mlp gru-64 gru-64-shared gru-32-shared
has ant && run ant python3 benchmarks/peer_playground.py --tasks brax/ant --total-timesteps 3276800 --num-evals 3 \
  --no-env-speed
has conv && run conv python3 benchmarks/conv_speed.py --seeds 1 3 128
has cartpole && run cartpole python3 benchmarks/peer_playground.py --tasks CartpoleBalance --no-env-speed
ls -la "$out"
