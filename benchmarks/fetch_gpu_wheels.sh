#!/usr/bin/env bash
# Fetch, on the CPU machine, the wheels the GPU scripts install on a device machine (the GPU image has
# jax, flax, optax, chex, tqdm, matplotlib and imageio, Python 3.12, and no network):
#   .whl/             gymnasium, tensorboardX, rejax + gymnax 0.0.9 and their needs   (gpu_figures.sh)
#   .whl/playground/  MuJoCo, MJX, Playground, brax and their needs                   (gpu_playground.sh)
#   .whl/jaxrl_side/  gymnax 1.x for jaxrl's side where rejax keeps 0.0.9           (gpu_offpolicy_scale.sh)
#   .whl/purejaxql/   with PUREJAXQL=DIR, a copy of a purejaxql clone, PQN's peer   (gpu_offpolicy_scale.sh)
#                     (no network here: the session's `fetch github:mttga/purejaxql`, then
#                     git --git-dir=<its git dir> archive HEAD | tar -x -C DIR)
# Then pass carry: [".whl"] to the device call (64 MiB per call; about 34 MB in all). MuJoCo Warp
# (warp-lang, 149 MB) is left out on purpose: MJX's JAX implementation runs without it.
set -euo pipefail
download() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform any -d "$@"
}
download .whl gymnasium==1.3.0 farama-notifications==0.0.6 tensorboardX rejax==0.1.3 gymnax==0.0.9 \
  distrax==0.1.9 tfp-nightly dm-tree==0.1.10 gast==0.7.0 decorator==5.3.1 six
download .whl/playground mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0 playground==0.2.0 brax==0.14.2 \
  ml_collections==1.1.0 trimesh==5.2.0 jaxopt==0.8.5
download .whl/jaxrl_side gymnax==1.0.1
if [ -n "${PUREJAXQL:-}" ]; then rm -rf .whl/purejaxql && cp -r "$PUREJAXQL" .whl/purejaxql; fi
du -sh .whl .whl/playground .whl/jaxrl_side
