"""Time rejax's PPO (a PureJaxRL-style peer) on gymnax CartPole-v1; prints one JSON line.

Runs in an environment where rejax is installed (it is not a jaxrl dependency), e.g.
``python -m venv peer && peer/bin/pip install rejax && peer/bin/python benchmarks/peer_rejax.py``.
``benchmarks/device_loop.py --peer-python peer/bin/python`` calls it in the same run as
jaxrl's own measurement, so the two rates form a ratio on one machine.
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
    parser.add_argument("--total-timesteps", type=int, default=100_352)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batch = args.num_envs * args.num_steps
    algo = PPO.create(env="CartPole-v1", num_envs=args.num_envs, num_steps=args.num_steps, num_epochs=args.epochs,
                      num_minibatches=args.minibatches, total_timesteps=args.total_timesteps,
                      eval_freq=args.total_timesteps, skip_initial_evaluation=True, learning_rate=2.5e-4,
                      max_grad_norm=0.5, agent_kwargs={"activation": "tanh"})
    # No evaluation episodes inside the timed run: only training is compared.
    algo = algo.replace(eval_callback=lambda algo, ts, rng: ())
    train = jax.jit(algo.train)
    start = time.perf_counter()
    jax.block_until_ready(train(jax.random.PRNGKey(0)))
    first = time.perf_counter() - start
    times = []
    for seed in range(1, args.repeats + 1):
        start = time.perf_counter()
        jax.block_until_ready(train(jax.random.PRNGKey(seed)))
        times.append(time.perf_counter() - start)
    steps = (args.total_timesteps // batch) * batch
    print(json.dumps({"peer": "rejax", "env_steps": steps, "best_s": min(times), "compile_s": first - min(times),
                      "sps": steps / min(times), "jax": jax.__version__}))


if __name__ == "__main__":
    main()
