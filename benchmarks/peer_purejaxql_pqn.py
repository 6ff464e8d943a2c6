"""jaxrl's PQN next to purejaxql's (the PQN authors' code) on a gymnax MinAtar env, both with purejaxql's
published MinAtar config; all seeds of each library vmapped in one program, one machine, one run.

    git clone https://github.com/mttga/purejaxql /tmp/purejaxql
    python -m venv peer && peer/bin/pip install "gymnax==0.0.9" six chex
    python benchmarks/peer_purejaxql_pqn.py --peer-python peer/bin/python --purejaxql /tmp/purejaxql --seeds 3

The config (:data:`CONFIG`) is purejaxql's ``config/alg/pqn_minatar.yaml``: 128 envs x 32 steps, 2 epochs x
32 minibatches, RAdam 5e-4 decaying linearly, gradient norm 10, gamma 0.99, Q(lambda) 0.65, epsilon 1 ->
0.05 over the first 10% of the updates, 10M env steps; its network is a 16-channel 3x3 conv and a
128-unit layer, each with LayerNorm and ReLU. jaxrl runs its PQN preset for these ids, which is this
config (``PQN_PRESETS``). What still differs: purejaxql's conv has valid padding (8x8 maps; jaxrl's
keep 10x10), it divides the 0/1 grid by 255 and initialises with He normal (jaxrl: orthogonal), and its
step size decays per gradient step (jaxrl's per update). A shorter ``--total-timesteps`` shortens the
schedules of both alike (purejaxql's ``TOTAL_TIMESTEPS_DECAY``).

Evaluation: purejaxql's own test at the end of training (128 envs for one episode length, greedy, the mean
of the episodes that ended); jaxrl's final policies greedy on 20 fresh episodes per seed, and the mean
of the last 10 training records. Writes ``benchmarks/results/peer_purejaxql_pqn__<device>__<date>.json``.
With ``--peer`` it runs purejaxql's side only and prints one JSON line. purejaxql's module imports hydra,
omegaconf and wandb for its command line and logging, which the training function does not use: where they
are not installed, empty stand-ins are put in their place (so the GPU machines need no wheels for them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import compile_then_run, jaxrl_seeds_side, run_peer_script, write_result

CONFIG = {"num_envs": 128, "num_steps": 32, "epochs": 2, "minibatches": 32, "learning_rate": 5e-4,
          "max_grad_norm": 10.0, "gamma": 0.99, "q_lambda": 0.65, "eps_start": 1.0, "eps_finish": 0.05,
          "eps_decay": 0.1, "total_timesteps": 10_000_000}


def _stand_in_for_unused_imports() -> None:
    """Empty modules for purejaxql's command-line and logging imports that are not installed."""
    import importlib.util
    import types

    for name in ("hydra", "omegaconf", "wandb"):
        if importlib.util.find_spec(name) is None:
            module = types.ModuleType(name)
            module.main = lambda **_: (lambda function: function)  # hydra.main(...) decorates the entry point
            module.OmegaConf = None
            sys.modules[name] = module


def run_purejaxql(purejaxql_dir: str, env: str, num_seeds: int, total_timesteps: int) -> dict:
    """purejaxql's ``pqn_minatar.make_train`` with :data:`CONFIG`, seeds vmapped: per-seed test returns, seconds."""
    sys.path.insert(0, str(Path(purejaxql_dir) / "purejaxql"))
    import jax

    _stand_in_for_unused_imports()
    import pqn_minatar  # purejaxql's own module, imported from its clone

    c = CONFIG
    config = {"ALG_NAME": "pqn", "ENV_NAME": env, "ENV_KWARGS": {}, "TOTAL_TIMESTEPS": total_timesteps,
              "TOTAL_TIMESTEPS_DECAY": total_timesteps, "NUM_ENVS": c["num_envs"], "NUM_STEPS": c["num_steps"],
              "NUM_EPOCHS": c["epochs"], "NUM_MINIBATCHES": c["minibatches"], "LR": c["learning_rate"],
              "LR_LINEAR_DECAY": True, "MAX_GRAD_NORM": c["max_grad_norm"], "GAMMA": c["gamma"],
              "LAMBDA": c["q_lambda"], "EPS_START": c["eps_start"], "EPS_FINISH": c["eps_finish"],
              "EPS_DECAY": c["eps_decay"], "NORM_TYPE": "layer_norm", "TEST_DURING_TRAINING": True,
              "TEST_INTERVAL": 0.05, "TEST_NUM_ENVS": 128, "EPS_TEST": 0.0, "WANDB_MODE": "disabled"}
    out, compile_s, train_s = compile_then_run(jax.vmap(pqn_minatar.make_train(config)),
                                               jax.random.split(jax.random.PRNGKey(0), num_seeds))
    metrics = out["metrics"]
    return {"eval_returns": metrics["test/returned_episode_returns"][:, -1].tolist(),
            "final_training_returns": metrics["returned_episode_returns"][:, -10:].mean(axis=1).tolist(),
            "compile_s": compile_s, "train_s": train_s, "sps": total_timesteps * num_seeds / train_s}


def run_jaxrl(env: str, num_seeds: int, total_timesteps: int) -> dict:
    """jaxrl's PQN preset for ``gymnax/<env>`` in the device loop, seeds vmapped, each seed evaluated greedily."""
    import jaxrl

    config = jaxrl.config_for("pqn", f"gymnax/{env}", total_timesteps=total_timesteps, seed=0, progress=False)
    return jaxrl_seeds_side("pqn", config, num_seeds, {"eval_returns": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Breakout-MinAtar", help="a gymnax MinAtar id, without gymnax/")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per library, vmapped")
    parser.add_argument("--total-timesteps", type=int, default=CONFIG["total_timesteps"], help="per seed")
    parser.add_argument("--peer-python", default=None, help="a Python with purejaxql's requirements")
    parser.add_argument("--purejaxql", default=None, help="a clone of github.com/mttga/purejaxql")
    parser.add_argument("--sides", nargs="+", default=["jaxrl", "purejaxql"], choices=["jaxrl", "purejaxql"],
                        help="which trainers to run")
    parser.add_argument("--peer", action="store_true", help="run purejaxql's side only (one JSON line)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no result file")
    args = parser.parse_args(argv)
    if args.peer:
        print(json.dumps(run_purejaxql(args.purejaxql, args.env, args.seeds, args.total_timesteps)), flush=True)
        return
    rows = {}
    if "jaxrl" in args.sides:
        rows["jaxrl"] = run_jaxrl(args.env, args.seeds, args.total_timesteps)
        print("jaxrl", rows["jaxrl"], flush=True)
    if "purejaxql" in args.sides and args.peer_python and args.purejaxql:
        rows["purejaxql"] = run_peer_script([args.peer_python, __file__, "--peer", "--purejaxql", args.purejaxql,
                                             "--env", args.env, "--seeds", str(args.seeds),
                                             "--total-timesteps", str(args.total_timesteps)])
        print("purejaxql", rows["purejaxql"], flush=True)
    if not args.no_write:
        print("wrote", write_result("peer_purejaxql_pqn", {
            "benchmark": "peer_purejaxql_pqn", "env": args.env,
            "config": {**CONFIG, "total_timesteps": args.total_timesteps}, "num_seeds": args.seeds, "rows": rows}))


if __name__ == "__main__":
    main()
