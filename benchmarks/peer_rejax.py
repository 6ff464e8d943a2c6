"""Time rejax's PPO (a PureJaxRL-style peer) on gymnax CartPole-v1; prints one JSON line.

Runs in an environment where rejax is installed (it is not a jaxrl dependency), e.g.
``python -m venv peer && peer/bin/pip install rejax==0.1.3 gymnax==0.0.9 && peer/bin/python
benchmarks/peer_rejax.py`` (rejax 0.1.3 unpacks gymnax 0.0.9's step, not 1.x's).
``benchmarks/device_loop.py --peer-python peer/bin/python`` calls it for every row, in the same
run as jaxrl's own measurement, so the two rates form a ratio on one machine.

Timed as jaxrl is: compile ahead of time (``lower().compile()``, tracing included), then the
best of ``--repeats`` calls. One seed is ``jit(train)``; several are ``jit(vmap(train))``.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
from rejax import PPO


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--total-timesteps", type=int, default=100_352, help="per seed")
    parser.add_argument("--num-seeds", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batch = args.num_envs * args.num_steps
    algo = PPO.create(env="CartPole-v1", num_envs=args.num_envs, num_steps=args.num_steps, num_epochs=args.epochs,
                      num_minibatches=args.minibatches, total_timesteps=args.total_timesteps,
                      eval_freq=args.total_timesteps, skip_initial_evaluation=True, learning_rate=2.5e-4,
                      max_grad_norm=0.5, agent_kwargs={"activation": "tanh"})
    # No evaluation episodes inside the timed run: only training is compared.
    algo = algo.replace(eval_callback=lambda algo, ts, rng: ())
    train = jax.jit(algo.train if args.num_seeds == 1 else jax.vmap(algo.train))

    def keys(seed: int) -> jax.Array:
        key = jax.random.PRNGKey(seed)
        return key if args.num_seeds == 1 else jax.random.split(key, args.num_seeds)

    start = time.perf_counter()
    compiled = train.lower(keys(0)).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(keys(0)))
    times = []
    for seed in range(1, args.repeats + 1):
        start = time.perf_counter()
        jax.block_until_ready(compiled(keys(seed)))
        times.append(time.perf_counter() - start)
    steps = (args.total_timesteps // batch) * batch
    print(json.dumps({"peer": "rejax", "env_steps_per_seed": steps, "num_seeds": args.num_seeds,
                      "best_s": min(times), "compile_s": compile_s, "aggregate_sps": steps * args.num_seeds / min(times),
                      "jax": jax.__version__, "device": jax.devices()[0].device_kind}))


if __name__ == "__main__":
    main()
