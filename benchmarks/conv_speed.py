"""One gradient step through a 3x3 same-padding convolution: flax's ``nn.Conv`` against jaxrl's
``ConvProduct`` (one matrix product over the pixels' neighbourhoods), same parameters, one process.

    python benchmarks/conv_speed.py                     # MinAtar's shape: 128 images of 10x10x4 -> 16
    python benchmarks/conv_speed.py --seeds 1 3 --batch 128 --channels 4 --features 16

Each side runs ``--steps`` SGD steps in one ``lax.scan`` (a tanh-square loss on the conv's output),
vmapped over ``--seeds`` parameter sets as a multi-seed run is; the figure is the best of ``--repeats``
calls per step. Writes ``benchmarks/results/conv_speed__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

from jaxrl.nets.conv import ConvProduct


def ms_per_step(module: nn.Module, images: jax.Array, num_seeds: int, steps: int, repeats: int) -> float:
    """Best-of-``repeats`` milliseconds per gradient step of ``module`` on ``images [N, H, W, C]``."""
    params = jax.vmap(lambda key: module.init(key, images))(jax.random.split(jax.random.PRNGKey(1), num_seeds))

    def loss(p: dict) -> jax.Array:
        return jnp.sum(jnp.square(jnp.tanh(module.apply(p, images))))

    def descend(p: dict) -> dict:
        def step(p: dict, _: None) -> tuple[dict, None]:
            return jax.tree.map(lambda value, grad: value - 1e-3 * grad, p, jax.grad(loss)(p)), None

        return jax.lax.scan(step, p, None, length=steps)[0]

    run = jax.jit(jax.vmap(descend))
    jax.block_until_ready(run(params))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(params))
        times.append(time.perf_counter() - start)
    return min(times) / steps * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3], help="parameter sets vmapped")
    parser.add_argument("--batch", type=int, default=128, help="images per forward and backward pass")
    parser.add_argument("--size", type=int, default=10, help="image height and width")
    parser.add_argument("--channels", type=int, default=4, help="input channels (MinAtar Breakout: 4)")
    parser.add_argument("--features", type=int, default=16, help="output channels of the 3x3 conv")
    parser.add_argument("--steps", type=int, default=50, help="gradient steps per timed call")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row (fastest kept)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no result file")
    args = parser.parse_args(argv)
    images = jax.random.normal(jax.random.PRNGKey(0), (args.batch, args.size, args.size, args.channels))
    rows = []
    for num_seeds in args.seeds:
        flax_ms = ms_per_step(nn.Conv(args.features, (3, 3), padding="SAME"), images, num_seeds, args.steps,
                              args.repeats)
        ours_ms = ms_per_step(ConvProduct(args.features), images, num_seeds, args.steps, args.repeats)
        rows.append({"num_seeds": num_seeds, "nn_conv_ms": flax_ms, "conv3x3_ms": ours_ms, "speedup": flax_ms / ours_ms})
        print(f"{num_seeds} seed(s): nn.Conv {flax_ms:.3f} ms, ConvProduct {ours_ms:.3f} ms per step "
              f"({flax_ms / ours_ms:.1f}x)", flush=True)
    if not args.no_write:
        shape = {"batch": args.batch, "size": args.size, "channels": args.channels, "features": args.features}
        print("wrote", write_result("conv_speed", {"benchmark": "conv_speed", "shape": shape, "rows": rows}))


if __name__ == "__main__":
    main()
