"""rejax's PPO on gymnax CartPole-v1 with PureJaxRL's CartPole config, timed from process start
to a trained agent, then evaluated; prints one JSON line (see benchmarks/time_to_solve.py).

Runs where rejax 0.1.3 and gymnax 0.0.9 are installed (benchmarks/peer_rejax.py says how).
The evaluation is rejax's own (``rejax.evaluate`` with ``algo.make_act``, which samples the
policy), over ``--episodes`` fresh episodes; it is not timed.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before jax is imported: the import is part of the time to solve

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402
from peer_rejax import rejax_ppo  # noqa: E402  (the same config builder as the speed rows)
from rejax.evaluate import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the training seed")
    parser.add_argument("--total-timesteps", type=int, default=500_000, help="env steps (PureJaxRL's CartPole budget)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes after training (not timed)")
    args = parser.parse_args()
    algo = rejax_ppo(num_envs=4, num_steps=128, epochs=4, minibatches=4, total_timesteps=args.total_timesteps)
    train_state, _ = jax.block_until_ready(jax.jit(algo.train)(jax.random.PRNGKey(args.seed)))
    wall_s = time.perf_counter() - STARTED
    lengths, returns = evaluate(algo.make_act(train_state), jax.random.PRNGKey(10_000 + args.seed), algo.env,
                                algo.env_params, num_seeds=args.episodes)
    print(json.dumps({"peer": "rejax", "seed": args.seed, "env_steps": args.total_timesteps, "wall_s": wall_s,
                      "eval_mean_return": float(returns.mean()), "eval_episodes": args.episodes}))


if __name__ == "__main__":
    main()
