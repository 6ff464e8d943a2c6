"""jaxrl's PPO or SAC next to MuJoCo Playground's own trainer (brax's PPO or SAC) on Playground's
DM-Control tasks, each with Playground's published config, at equal env steps; one machine, one process.
Also brax's own envs (``brax/<name>``) against brax's trainer with brax's published config (ant).

    pip install -e '.[playground]'
    python benchmarks/peer_playground.py --tasks CartpoleBalance CartpoleSwingup
    python benchmarks/peer_playground.py --algorithm sac --tasks CartpoleBalance --total-timesteps 5000000
    python benchmarks/peer_playground.py --tasks brax/ant --total-timesteps 50000000 --num-evals 10

For ``brax/<name>`` tasks the published config is the one brax's training notebook gives for that env
(``jaxrl.agents.published.BRAX_PUBLISHED``), the env is ``brax.envs.get_environment(name, backend)`` on both sides with the
backend jaxrl picks (``JAXRL_BRAX_BACKEND``, default ``mjx``), and brax's trainer wraps it with its own
training wrapper, as brax's notebook does.

Playground's side is ``brax.training.agents.<algorithm>.train`` with
``mujoco_playground.config.dm_control_suite_params.brax_<algorithm>_config(task)`` (only
``num_timesteps`` and ``num_evals`` changed) on the env wrapped by Playground's ``wrap_for_brax_training``,
as Playground's own training notebooks do. jaxrl's side maps the same numbers onto its config
(``jaxrl.agents.published``: ``brax_ppo_fields``, ``brax_sac_fields``; the same
mapping gives ``brax/ant`` and Playground's locomotion and manipulation ids their presets). PPO: the same envs, samples per update, epochs,
minibatches, step size, discount, lambda, clip, entropy and value weights, reward scale, observation
normalisation, and network shape (a 32x4 policy and a 256x5 value net, swish). SAC: the same envs,
batch, gradient steps per env step, replay sizes, step size, discount, Polyak rate, LayerNorm critics,
observation normalisation and 256x256 ReLU networks. jaxrl keeps its own initialisation (but PPO starts
from brax's policy std, 0.694, since 2026-11-27; the Playground rows before started from 1), its policy
distributions (PPO's Gaussian is clipped where brax's is tanh-squashed) and its bootstrapping from the
true final observation at the time limit (brax's PPO masks those steps out), and its preset's full
float32 matrix products (``matmul_precision="highest"``; brax runs at JAX's default, TF32 on NVIDIA
GPUs). Both use MJX's JAX implementation (``impl="jax"``).

Per task it records each trainer's curve (brax: its own evaluation, 128 envs, sampled actions;
jaxrl: the mean return of training episodes), wall-clock from the call to the trained agent
(compile included), jaxrl's compile apart, each one's training steps per second, and jaxrl's final
policy evaluated on 128 fresh episodes (sampled and greedy). Writes
``benchmarks/results/peer_playground__<device>__<date>.json`` after every task.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

from jaxrl.agents.published import FIELDS, published_config
from jaxrl.envs.brax_suite import PREFIX as BRAX_PREFIX
from jaxrl.envs.brax_suite import backend as brax_backend

EVAL_EPISODES = 128  # brax's num_eval_envs default: one episode each


def is_brax_task(task: str) -> bool:
    """Whether ``task`` is one of brax's own envs (``brax/<name>``) rather than a Playground name."""
    return task.startswith(BRAX_PREFIX)


def jaxrl_env_id(task: str) -> str:
    """jaxrl's id for a task of this script: ``brax/<name>`` as given, a Playground name prefixed."""
    return task if is_brax_task(task) else f"playground/{task}"


# jaxrl's per-update metrics kept beside the curve (whichever the algorithm reports)
DIAGNOSTICS = ("approx_kl", "clip_fraction", "entropy", "value_loss", "grad_norm", "explained_variance",
               "qf_loss", "alpha")


def eval_schedule(algorithm: str, config, num_evals: int) -> dict:
    """``eval_every`` / ``eval_episodes`` that give jaxrl brax's evaluation points after step 0 (brax's
    first evaluation is of the untrained policy): ``num_evals - 1`` evenly spaced deterministic
    evaluations of :data:`EVAL_EPISODES` episodes during training (none for ``num_evals < 2``)."""
    from jaxrl.agents.registry import OFF_POLICY, get_algorithm
    from jaxrl.loops.schedules import off_policy_records

    if num_evals < 2:
        return {}
    off_policy = get_algorithm(algorithm).schedule == OFF_POLICY
    iterations = off_policy_records(config)[1] if off_policy else config.num_updates
    return {"eval_every": max(1, iterations // (num_evals - 1)), "eval_episodes": EVAL_EPISODES}


def run_jaxrl(task: str, algorithm: str, total_timesteps: int, seed: int, env_speed: bool = True,
              num_evals: int = 0) -> dict:
    """jaxrl's ``algorithm`` in the device loop with the mapped config: curve (and, with ``num_evals``,
    deterministic evaluations during training at brax's points), times, final evaluation."""
    import dataclasses

    import numpy as np

    import jaxrl
    from jaxrl.bench.cells import device_env_sps, steps_per_start
    from jaxrl.envs.device import make_device_env

    overrides = FIELDS[algorithm](published_config(jaxrl_env_id(task), algorithm))
    config = jaxrl.config_for(algorithm, jaxrl_env_id(task), seed=seed, total_timesteps=total_timesteps,
                              progress=False, **overrides)
    config = dataclasses.replace(config, **eval_schedule(algorithm, config, num_evals))
    start = time.perf_counter()
    result = jaxrl.run_device(algorithm, config, num_seeds=1)
    wall_s = time.perf_counter() - start
    state = result.seed_state(0)
    env_only = (device_env_sps(make_device_env(jaxrl_env_id(task)), config.num_envs, steps=200, min_seconds=1.0,
                               steps_per_start=steps_per_start(config))
                if env_speed else None)
    evaluation = {f"eval_{kind}": jaxrl.evaluate(algorithm, state, episodes=EVAL_EPISODES, seed=10_000,
                                                  deterministic=deterministic)["mean_return"]
                  for kind, deterministic in (("sampled", False), ("greedy", True))}
    steps = np.asarray(result.metrics["env_steps"])[0]
    returns = np.asarray(result.metrics["episodic_return"])[0]
    summary = result.summary
    return {"overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
            "matmul_precision": config.matmul_precision,
            "curve_env_steps": steps.tolist(), "curve_training_return": np.where(np.isfinite(returns), returns,
                                                                                  np.nan).tolist(),
            "metrics": {name: np.asarray(result.metrics[name])[0].tolist() for name in DIAGNOSTICS
                        if name in result.metrics},
            **evaluation, "curve_eval": [{"env_steps": e["env_steps"], "eval_return": e["eval_return"]}
                                         for e in summary["evaluations"]],
            "eval_s": summary["eval_s"],
            "wall_s": wall_s, "compile_s": summary["compile_s"], "train_s": summary["train_s"],
            "train_sps": summary["aggregate_sps"], "env_only_sps": env_only}


def restore_device_put_replicated() -> None:
    """brax 0.14.2's trainers call ``jax.device_put_replicated``, which JAX 0.10 removed: put it back
    (a leading axis of one copy per device, as ``jax.pmap`` reads it)."""
    import jax
    import jax.numpy as jnp

    try:
        jax.device_put_replicated  # noqa: B018 (raises AttributeError where removed)
    except AttributeError:
        jax.device_put_replicated = lambda tree, devices: jax.tree.map(
            lambda leaf: jax.device_put(jnp.stack([jnp.asarray(leaf)] * len(devices))), tree)


def run_brax(task: str, algorithm: str, total_timesteps: int, seed: int, num_evals: int) -> dict:
    """Playground's published config run through brax's trainer, as Playground's notebooks call it."""
    import functools
    import importlib
    import inspect

    networks = importlib.import_module(f"brax.training.agents.{algorithm}.networks")
    trainer = importlib.import_module(f"brax.training.agents.{algorithm}.train")
    make_networks = {"ppo": "make_ppo_networks", "sac": "make_sac_networks"}[algorithm]
    restore_device_put_replicated()
    published = published_config(jaxrl_env_id(task), algorithm)
    network = published.pop("network_factory")
    published.update(num_timesteps=total_timesteps, num_evals=num_evals)
    # Playground's SAC configs carry num_resets_per_eval, which brax's SAC trainer does not take
    accepted = inspect.signature(trainer.train).parameters
    ignored = sorted(name for name in published if name not in accepted)
    published = {name: value for name, value in published.items() if name in accepted}
    env, eval_env, wrap = envs_for_brax(task)
    evals: list[dict] = []
    start = time.perf_counter()

    def progress(step: int, metrics: dict) -> None:
        evals.append({"env_steps": int(step), "eval_return": float(metrics["eval/episode_reward"]),
                      "wall_s": time.perf_counter() - start,
                      "training_sps": float(metrics.get("training/sps", float("nan"))),
                      "training_walltime_s": float(metrics.get("training/walltime", float("nan")))})
        print(f"  brax {task}: {step} steps, eval {evals[-1]['eval_return']:.1f}, {evals[-1]['wall_s']:.1f} s",
              flush=True)

    trainer.train(environment=env, eval_env=eval_env, wrap_env_fn=wrap, seed=seed, progress_fn=progress,
                  network_factory=functools.partial(getattr(networks, make_networks), **network), **published)
    return {"evals": evals, "eval_sampled": evals[-1]["eval_return"], "wall_s": time.perf_counter() - start,
            "config_fields_brax_does_not_take": ignored, **brax_rates(evals)}


def envs_for_brax(task: str) -> tuple[object, object, object]:
    """``(env, eval_env, wrap_env_fn)`` for brax's trainer: a Playground env (MJX's JAX implementation)
    with Playground's training wrapper, or a brax env on jaxrl's brax backend with brax's own (None)."""
    if is_brax_task(task):
        from brax import envs

        make = lambda: envs.get_environment(task.removeprefix(BRAX_PREFIX), backend=brax_backend())  # noqa: E731
        return make(), make(), None
    from mujoco_playground import registry, wrapper

    make = lambda: registry.load(task, config_overrides={"impl": "jax"})  # noqa: E731
    return make(), make(), wrapper.wrap_for_brax_training


def brax_rates(evals: list[dict]) -> dict:
    """brax's training SPS after its first evaluation period, from its cumulative training wall time,
    and from that its compile time (the first period's time beyond that rate).

    brax 0.14.2's own ``training/sps`` divides a whole period's env steps (``num_resets_per_eval``
    epochs) by one epoch's time, so with Playground's ``num_resets_per_eval=10`` it reads 10x high;
    it is kept as ``brax_reported_sps``. Needs three evaluations (the first at step 0)."""
    if len(evals) < 3:
        return {"train_sps": float("nan"), "compile_s": float("nan"), "brax_reported_sps": evals[-1]["training_sps"]}
    first, last = evals[1], evals[-1]
    sps = (last["env_steps"] - first["env_steps"]) / (last["training_walltime_s"] - first["training_walltime_s"])
    return {"train_sps": sps, "compile_s": first["training_walltime_s"] - first["env_steps"] / sps,
            "brax_reported_sps": last["training_sps"]}


def brax_backend_if_used(tasks: list[str]) -> str | None:
    """The brax physics backend of the ``brax/<name>`` tasks (None when there are none)."""
    return brax_backend() if any(is_brax_task(task) for task in tasks) else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", choices=sorted(FIELDS), default="ppo", help="the agent both trainers run")
    parser.add_argument("--tasks", nargs="+", default=["CartpoleBalance", "CartpoleSwingup"],
                        help="Playground env names or brax/<name> ids, each with its published config")
    # brax runs whole evaluation periods of num_resets_per_eval (10) updates of 983,040 steps each;
    # with --num-evals 3 (two periods) 19,660,800 steps is the smallest budget both run exactly
    parser.add_argument("--total-timesteps", type=int, default=19_660_800, help="env steps, both trainers")
    parser.add_argument("--seed", type=int, default=0, help="the seed of both trainers")
    parser.add_argument("--num-evals", type=int, default=3,
                        help="brax's evaluations (the first at step 0); jaxrl evaluates at the others' points")
    parser.add_argument("--sides", nargs="+", default=["jaxrl", "brax"], choices=["jaxrl", "brax"],
                        help="which trainers to run")
    parser.add_argument("--no-env-speed", action="store_true", help="skip timing jaxrl's env alone")
    parser.add_argument("--experiment", default=None, metavar="LABEL",
                        help="a one-off variant: written as experiment__peer_playground__... (REPORT.md skips it)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no result file")
    args = parser.parse_args(argv)
    import jax

    runners = {"jaxrl": lambda task: run_jaxrl(task, args.algorithm, args.total_timesteps, args.seed,
                                               not args.no_env_speed, args.num_evals),
               "brax": lambda task: run_brax(task, args.algorithm, args.total_timesteps, args.seed, args.num_evals)}
    rows: dict[str, dict] = {}
    path = None
    for task in args.tasks:
        rows[task] = {"published_config": published_config(jaxrl_env_id(task), args.algorithm)}
        for side in args.sides:
            rows[task][side] = runners[side](task)
            row = rows[task][side]
            print(f"{task} {side}: eval {row['eval_sampled']:.1f}, {row['wall_s']:.1f} s wall "
                  f"({row['compile_s']:.1f} s compile), {row['train_sps']:,.0f} SPS", flush=True)
            if not args.no_write:
                name = "experiment__peer_playground" if args.experiment else "peer_playground"
                path = write_result(name, {
                    "benchmark": "peer_playground", "experiment": args.experiment, "algorithm": args.algorithm,
                    "matmul_precision": str(jax.config.jax_default_matmul_precision),
                    "total_timesteps": args.total_timesteps, "seed": args.seed, "impl": "jax",
                    "brax_backend": brax_backend_if_used(args.tasks), "rows": rows},
                    path=path)
    if path:
        print("wrote", path)


if __name__ == "__main__":
    main()
