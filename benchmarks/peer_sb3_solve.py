"""Stable-Baselines3 with its default hyper-parameters, timed from process start to a saved agent
whose deterministic evaluation reaches the bar; prints one JSON line (see benchmarks/time_to_solve.py).

Runs where stable-baselines3 (and so torch) is installed -- not jaxrl's environment:

    python -m venv sb3 && sb3/bin/pip install stable-baselines3
    sb3/bin/python benchmarks/peer_sb3_solve.py --algo sac --env Pendulum-v1 --bar -200 --seed 1

Training stops at the first periodic evaluation (``--eval-every`` env steps, ``--eval-episodes``
deterministic episodes on a separate env) that reaches ``--bar``, or at ``--max-steps``. The time
those evaluations take is measured and left out of ``wall_s`` (jaxrl's rows train to a fixed budget
and evaluate afterwards), so ``wall_s`` is imports + training + saving. The saved agent is then
evaluated again on ``--episodes`` fresh episodes (not timed): that is the reported return.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before torch is imported: the import is part of the time to solve

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import stable_baselines3 as sb3  # noqa: E402
import torch  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

ALGORITHMS = {"ppo": sb3.PPO, "sac": sb3.SAC, "td3": sb3.TD3, "ddpg": sb3.DDPG, "dqn": sb3.DQN}


class StopAtBar(BaseCallback):
    """Evaluates every ``every`` env steps; stops training once the mean return reaches ``bar``."""

    def __init__(self, env_id: str, bar: float, every: int, episodes: int, seed: int) -> None:
        super().__init__()
        self.eval_env = gym.make(env_id)
        self.eval_env.reset(seed=seed)
        self.bar, self.every, self.episodes = bar, every, episodes
        self.next_eval, self.eval_s, self.reached_at = every, 0.0, None

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_eval:
            return True
        self.next_eval += self.every
        start = time.perf_counter()
        mean_return, _ = evaluate_policy(self.model, self.eval_env, n_eval_episodes=self.episodes, deterministic=True)
        self.eval_s += time.perf_counter() - start
        if mean_return >= self.bar:
            self.reached_at = self.num_timesteps
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=sorted(ALGORITHMS), required=True, help="the SB3 algorithm, with its defaults")
    parser.add_argument("--env", required=True, help="gymnasium id, e.g. CartPole-v1 or Pendulum-v1")
    parser.add_argument("--bar", type=float, required=True, help="mean deterministic return that counts as solved")
    parser.add_argument("--seed", type=int, default=1, help="the training seed")
    parser.add_argument("--max-steps", type=int, default=200_000, help="env steps after which an unsolved run stops")
    parser.add_argument("--eval-every", type=int, default=2_000, help="env steps between stop checks")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per stop check")
    parser.add_argument("--episodes", type=int, default=20, help="episodes of the final, untimed evaluation")
    args = parser.parse_args()
    model = ALGORITHMS[args.algo]("MlpPolicy", args.env, seed=args.seed, device="cpu")
    stop = StopAtBar(args.env, args.bar, args.eval_every, args.eval_episodes, 10_000 + args.seed)
    model.learn(total_timesteps=args.max_steps, callback=stop)
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "agent")
        wall_s = time.perf_counter() - STARTED - stop.eval_s
        loaded = ALGORITHMS[args.algo].load(Path(folder) / "agent", device="cpu")
    final_env = gym.make(args.env)
    final_env.reset(seed=20_000 + args.seed)
    mean_return, _ = evaluate_policy(loaded, final_env, n_eval_episodes=args.episodes, deterministic=True)
    print(json.dumps({"peer": f"stable-baselines3 {sb3.__version__}", "torch": torch.__version__,
                      "torch_threads": torch.get_num_threads(), "algo": args.algo, "env": args.env,
                      "seed": args.seed, "env_steps": model.num_timesteps, "reached_bar_at": stop.reached_at,
                      "wall_s": wall_s, "stop_check_s": stop.eval_s, "eval_mean_return": float(mean_return),
                      "eval_episodes": args.episodes}))


if __name__ == "__main__":
    main()
