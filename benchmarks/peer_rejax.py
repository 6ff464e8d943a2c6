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


def rejax_ppo(num_envs: int, num_steps: int, epochs: int, minibatches: int, total_timesteps: int) -> PPO:
    """rejax's PPO on gymnax CartPole-v1 with the peer config (64x64 tanh, lr 2.5e-4, gradient norm
    clipped at 0.5; rejax's defaults otherwise: gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01), with
    no evaluation inside training: only training is timed."""
    algo = PPO.create(env="CartPole-v1", num_envs=num_envs, num_steps=num_steps, num_epochs=epochs,
                      num_minibatches=minibatches, total_timesteps=total_timesteps, eval_freq=total_timesteps,
                      skip_initial_evaluation=True, learning_rate=2.5e-4, max_grad_norm=0.5,
                      agent_kwargs={"activation": "tanh"})
    return algo.replace(eval_callback=lambda algo, ts, rng: ())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=8, help="parallel envs per seed")
    parser.add_argument("--num-steps", type=int, default=128, help="steps per env and rollout")
    parser.add_argument("--epochs", type=int, default=4, help="passes over each rollout")
    parser.add_argument("--minibatches", type=int, default=4, help="minibatches per epoch")
    parser.add_argument("--total-timesteps", type=int, default=100_352, help="per seed")
    parser.add_argument("--num-seeds", type=int, default=1, help="seeds in one jit(vmap(train)); 1: jit(train)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after compiling (fastest kept)")
    args = parser.parse_args()
    batch = args.num_envs * args.num_steps
    algo = rejax_ppo(args.num_envs, args.num_steps, args.epochs, args.minibatches, args.total_timesteps)
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
                      "best_s": min(times), "compile_s": compile_s,
                      "aggregate_sps": steps * args.num_seeds / min(times),
                      "jax": jax.__version__, "device": jax.devices()[0].device_kind}))


if __name__ == "__main__":
    main()
