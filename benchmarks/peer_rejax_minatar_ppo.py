"""jaxrl's PPO next to rejax's PPO on gymnax ``Breakout-MinAtar``, gymnax's published PPO config for
both, all seeds of each library vmapped in one program; one machine, one run.

    python -m venv peer && peer/bin/pip install rejax six "gymnax==0.0.9"   # rejax 0.1.3 unpacks 0.0.9's step
    python benchmarks/peer_rejax_minatar_ppo.py --peer-python peer/bin/python --seeds 3

The config (:data:`CONFIG`) is gymnax-blines' ``agents/Breakout-MinAtar/ppo.yaml``: 64 envs x 128
steps, 4 epochs x 8 minibatches, Adam 5e-4 (its 5% warm-up is left out on both sides), gamma 0.999,
lambda 0.95, clip 0.2, entropy 0.01, value 0.5, gradient norm 0.5, a 256x256 MLP on the flattened
10x10x4 grid, 10M env steps. rejax ships no MinAtar config; this is the suite author's. Both use ReLU.
Each library's seeds train in one ``jit(vmap(train))``, timed apart from its compilation. Evaluation:
jaxrl's final policies on 20 fresh episodes per seed, both sampled (as rejax evaluates) and greedy;
rejax's own end-of-training evaluation (128 episodes, sampled). Writes
``benchmarks/results/peer_rejax_minatar_ppo__<device>__<date>.json``. With ``--peer`` it runs rejax's
side only and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import compile_then_run, jaxrl_seeds_side, run_peer_script, write_result

ENV = "Breakout-MinAtar"
CONFIG = {"num_envs": 64, "num_steps": 128, "epochs": 4, "minibatches": 8, "learning_rate": 5e-4, "gamma": 0.999,
          "gae_lambda": 0.95, "clip": 0.2, "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5,
          "hidden_sizes": [256, 256], "activation": "relu", "total_timesteps": 10_000_000}


def run_rejax(num_seeds: int, total_timesteps: int) -> dict:
    """rejax's PPO with :data:`CONFIG`, ``num_seeds`` seeds vmapped: per-seed final evaluation, seconds."""
    import jax
    import jax.numpy as jnp
    from rejax import PPO

    c = CONFIG
    algo = PPO.create(env=ENV, num_envs=c["num_envs"], num_steps=c["num_steps"], num_epochs=c["epochs"],
                      num_minibatches=c["minibatches"], learning_rate=c["learning_rate"], gamma=c["gamma"],
                      gae_lambda=c["gae_lambda"], clip_eps=c["clip"], ent_coef=c["ent_coef"], vf_coef=c["vf_coef"],
                      max_grad_norm=c["max_grad_norm"], total_timesteps=total_timesteps, eval_freq=total_timesteps,
                      skip_initial_evaluation=True,
                      agent_kwargs={"activation": c["activation"], "hidden_layer_sizes": tuple(c["hidden_sizes"])})
    (_, (_, returns)), compile_s, train_s = compile_then_run(jax.vmap(algo.train),
                                                             jax.random.split(jax.random.PRNGKey(0), num_seeds))
    return {"eval_returns": jnp.mean(returns[:, -1], axis=-1).tolist(), "compile_s": compile_s, "train_s": train_s,
            "sps": total_timesteps * num_seeds / train_s}


def jaxrl_overrides() -> dict:
    """:data:`CONFIG` in jaxrl's field names (jaxrl's preset for the env is this config too)."""
    c = CONFIG
    return {"num_envs": c["num_envs"], "num_steps": c["num_steps"], "update_epochs": c["epochs"],
            "num_minibatches": c["minibatches"], "learning_rate": c["learning_rate"], "anneal_lr": False,
            "gamma": c["gamma"], "gae_lambda": c["gae_lambda"], "clip_coef": c["clip"], "ent_coef": c["ent_coef"],
            "vf_coef": c["vf_coef"], "max_grad_norm": c["max_grad_norm"], "hidden_sizes": tuple(c["hidden_sizes"]),
            "activation": c["activation"], "total_timesteps": c["total_timesteps"]}


def run_jaxrl(num_seeds: int, total_timesteps: int) -> dict:
    """jaxrl's PPO in the device loop with :data:`CONFIG`, seeds vmapped, then each seed's evaluation."""
    import jaxrl

    config = jaxrl.config_for("ppo", f"gymnax/{ENV}", **{**jaxrl_overrides(), "total_timesteps": total_timesteps},
                              seed=0, progress=False)
    return jaxrl_seeds_side("ppo", config, num_seeds, {"eval_returns": False, "eval_returns_greedy": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per library, vmapped")
    parser.add_argument("--total-timesteps", type=int, default=CONFIG["total_timesteps"], help="per seed")
    parser.add_argument("--peer-python", default=None, help="a Python with rejax installed")
    parser.add_argument("--peer", action="store_true", help="run rejax's side only (one JSON line)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no result file")
    args = parser.parse_args(argv)
    if args.peer:
        print(json.dumps(run_rejax(args.seeds, args.total_timesteps)), flush=True)
        return
    rows = {"jaxrl": run_jaxrl(args.seeds, args.total_timesteps)}
    print("jaxrl", rows["jaxrl"], flush=True)
    if args.peer_python:
        rows["rejax"] = run_peer_script([args.peer_python, __file__, "--peer", "--seeds", str(args.seeds),
                                         "--total-timesteps", str(args.total_timesteps)])
        print("rejax", rows["rejax"], flush=True)
    if not args.no_write:
        print("wrote", write_result("peer_rejax_minatar_ppo", {
            "benchmark": "peer_rejax_minatar_ppo", "env": ENV, "config": {**CONFIG, "total_timesteps":
                                                                          args.total_timesteps},
            "num_seeds": args.seeds, "rows": rows}))


if __name__ == "__main__":
    main()
