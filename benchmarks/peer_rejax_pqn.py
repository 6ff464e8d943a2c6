"""jaxrl's PQN next to rejax's PQN on a gymnax env (default ``Breakout-MinAtar``), one config, one machine.

    python -m venv peer && peer/bin/pip install rejax six "gymnax==0.0.9"   # rejax 0.1.3 unpacks 0.0.9's step
    python benchmarks/peer_rejax_pqn.py --peer-python peer/bin/python --seeds 0 1 2

The config is the same for both (many envs, Q(lambda) over short rollouts, LayerNorm MLP on the
flattened image, epsilon decaying linearly, a constant step size): :data:`CONFIG`. Each seed of each
library is one jitted run timed apart from its compilation; both are evaluated by their own protocol,
jaxrl's deterministic greedy policy over 20 fresh episodes, rejax's built-in evaluation (128 episodes,
its epsilon 0.005). Writes ``benchmarks/results/peer_rejax_pqn__<device>__<date>.json``.
With ``--peer`` (used through ``--peer-python``) it runs rejax's side only and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import compile_then_run, run_peer_script, write_result

CONFIG = {"num_envs": 128, "num_steps": 32, "epochs": 2, "minibatches": 4, "learning_rate": 2.5e-4, "gamma": 0.99,
          "td_lambda": 0.65, "eps_start": 1.0, "eps_end": 0.05, "exploration_fraction": 0.2,
          "hidden_sizes": [64, 64], "max_grad_norm": 10.0, "total_timesteps": 2_000_000}


def run_rejax(env: str, seed: int) -> dict:
    """rejax's PQN with :data:`CONFIG`: final evaluation return, compile and train seconds."""
    import jax
    import jax.numpy as jnp
    from rejax import PQN

    c = CONFIG
    algo = PQN.create(env=env, num_envs=c["num_envs"], num_steps=c["num_steps"], num_epochs=c["epochs"],
                      num_minibatches=c["minibatches"], learning_rate=c["learning_rate"], gamma=c["gamma"],
                      td_lambda=c["td_lambda"], eps_start=c["eps_start"], eps_end=c["eps_end"],
                      exploration_fraction=c["exploration_fraction"], max_grad_norm=c["max_grad_norm"],
                      total_timesteps=c["total_timesteps"], eval_freq=c["total_timesteps"],
                      skip_initial_evaluation=True)  # rejax's PQN fixes its Q-network at (64, 64)
    (_, (_, returns)), compile_s, train_s = compile_then_run(algo.train, jax.random.PRNGKey(seed))
    return {"seed": seed, "eval_return": float(jnp.mean(returns[-1])), "compile_s": compile_s, "train_s": train_s,
            "sps": c["total_timesteps"] / train_s}


def run_jaxrl(env: str, seed: int) -> dict:
    """jaxrl's PQN in the device loop with :data:`CONFIG`, then its deterministic evaluation."""

    import jaxrl

    c = CONFIG
    config = jaxrl.config_for("pqn", f"gymnax/{env}", seed=seed, num_envs=c["num_envs"], num_steps=c["num_steps"],
                              update_epochs=c["epochs"], num_minibatches=c["minibatches"],
                              learning_rate=c["learning_rate"], anneal_lr=False, gamma=c["gamma"],
                              q_lambda=c["td_lambda"], eps_start=c["eps_start"], eps_finish=c["eps_end"],
                              exploration_fraction=c["exploration_fraction"], hidden_sizes=tuple(c["hidden_sizes"]),
                              max_grad_norm=c["max_grad_norm"], total_timesteps=c["total_timesteps"], progress=False)
    result = jaxrl.run_device("pqn", config, num_seeds=1)
    state = result.seed_state()
    evaluation = jaxrl.evaluate("pqn", state, episodes=20, seed=10_000 + seed, deterministic=True)
    summary = result.summary
    return {"seed": seed, "eval_return": evaluation["mean_return"], "compile_s": summary["compile_s"],
            "train_s": summary["train_s"], "sps": summary["aggregate_sps"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Breakout-MinAtar", help="a gymnax MinAtar id, without gymnax/")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds, one run each per library")
    parser.add_argument("--peer-python", default=None, help="a Python with rejax installed")
    parser.add_argument("--peer", action="store_true", help="run rejax's side only (one JSON line per seed)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no result file")
    args = parser.parse_args(argv)
    if args.peer:
        for seed in args.seeds:
            print(json.dumps(run_rejax(args.env, seed)), flush=True)
        return
    rows = {"jaxrl": [], "rejax": []}
    for seed in args.seeds:
        rows["jaxrl"].append(run_jaxrl(args.env, seed))
        print("jaxrl", rows["jaxrl"][-1], flush=True)
        if args.peer_python:
            rows["rejax"].append(run_peer_script([args.peer_python, __file__, "--peer", "--env", args.env,
                                                  "--seeds", str(seed)]))
            print("rejax", rows["rejax"][-1], flush=True)
    if not args.no_write:
        print("wrote", write_result("peer_rejax_pqn", {"benchmark": "peer_rejax_pqn", "env": args.env,
                                                       "config": CONFIG, "rows": rows}))


if __name__ == "__main__":
    main()
