"""Time Stable-Baselines3's PPO on gymnasium CartPole-v1 with the device-loop rows' config; prints one
JSON line.

Runs where stable-baselines3 is installed (torch comes with it; neither is a jaxrl dependency):
``python -m venv sb3 && sb3/bin/pip install stable-baselines3`` then ``benchmarks/device_loop.py
--sb3-python sb3/bin/python`` calls it for each single-agent row, in the same run as jaxrl and rejax.

SB3 runs the host loop it is built on: ``--num-envs`` gymnasium CartPoles in a ``DummyVecEnv``, a torch
policy on the CPU (``device="cpu"``, torch's default threads). The config is the rows' (64x64 tanh
actor and critic, rollouts of ``--num-steps``, 4 epochs of 4 minibatches, lr 2.5e-4, gamma 0.99,
lambda 0.95, clip 0.2, entropy 0.01, gradient norm 0.5). One untimed rollout and update first (torch's
first calls allocate); then ``--repeats`` timed calls of ``--rollouts`` rollouts and updates each, the
fastest kept. SB3 has no compile step.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import stable_baselines3 as sb3
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env


def sb3_ppo(num_envs: int, num_steps: int, seed: int) -> PPO:
    """SB3's PPO with the device-loop rows' config on ``num_envs`` CartPole-v1s."""
    env = make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=num_envs, seed=seed)
    return PPO("MlpPolicy", env, n_steps=num_steps, batch_size=num_envs * num_steps // 4, n_epochs=4,
               learning_rate=2.5e-4, gamma=0.99, gae_lambda=0.95, clip_range=0.2, ent_coef=0.01, max_grad_norm=0.5,
               policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh},
               seed=seed, device="cpu", verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=8, help="envs in the DummyVecEnv")
    parser.add_argument("--num-steps", type=int, default=128, help="steps per env and rollout")
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts and updates per timed call")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls (fastest kept)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the envs and the networks")
    args = parser.parse_args()
    batch = args.num_envs * args.num_steps
    model = sb3_ppo(args.num_envs, args.num_steps, args.seed)
    model.learn(total_timesteps=batch)  # untimed: torch's first calls
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.learn(total_timesteps=args.rollouts * batch, reset_num_timesteps=False)
        times.append(time.perf_counter() - start)
    print(json.dumps({"peer": f"stable-baselines3 {sb3.__version__}", "torch": torch.__version__,
                      "torch_threads": torch.get_num_threads(), "env_steps_per_call": args.rollouts * batch,
                      "best_s": min(times), "aggregate_sps": args.rollouts * batch / min(times)}))


if __name__ == "__main__":
    main()
