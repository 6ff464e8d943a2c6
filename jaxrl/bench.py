"""Throughput matrix: algorithm x env backend x num_envs, on whatever devices JAX sees.

    jaxrl bench --quick                       # a small matrix, under 2 minutes on a 2-core CPU
    jaxrl bench                               # the full matrix
    jaxrl bench --cells ppo-mlp:sync:8 sac:device:64

Every cell runs in a fresh process (``python -m jaxrl.bench --cell ...``), so its
peak host memory is its own and no compile cache carries over. In that process,
one after the other:

Rates are the median call's after a warm-up call, over at least 0.3 s (``--quick``) or 1 s.

* ``env_sps``:   the env alone, stepped with random actions (host: the gymnasium vector
                 env; device: the vmapped JAX env inside one jitted scan);
* ``policy_sps``: the acting loop's per-step policy call alone, on fixed observations with
                 the actions fetched to the host (host backends);
* ``act_sps``:   env + the jitted policy, no learning; a host step runs the policy and then
                 the env, so ``act_sps`` is at most ``act_bound_sps = 1 / (1/env_sps +
                 1/policy_sps)``, and ``act_over_bound`` says how close the loop comes;
* ``train_sps``: the real training loop after its first update/record (compilation
                 excluded; ``compile_s`` is the first update's extra time -- the policy was
                 compiled by the act measurement -- or the device loop's ahead-of-time compile);
* ``update_sps``: (PPO, host) the training run's compiled update alone on one rollout, in
                 env steps of data per second; training alternates rollout and update, so
                 ``train_sps`` is at most ``train_bound_sps = 1 / (1/act_sps + 1/update_sps)``;
* ``peak_rss_mb`` (the process's high-water mark) and, where the backend reports it,
  ``peak_device_mb``.

Backends: ``sync``, ``async`` and ``vector_entry_point`` (gymnasium, host loop),
``envpool`` (envpool's C++ vector env in the host loop, when installed) and ``device``
(the device loop on the env's JAX version). PPO runs on CartPole-v1
(``phys2d/CartPole-v1`` on the device), DDPG/TD3/SAC on Pendulum-v1 (``phys2d/Pendulum-v0``).
Results: ``benchmarks/results/throughput__<device>__<date>.json`` with machine, CPU,
device and versions; ``benchmarks/report.py`` merges such files into one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

ALGORITHMS = ("ppo-mlp", "ppo-lstm", "ddpg", "td3", "sac")
BACKENDS = ("sync", "async", "vector_entry_point", "envpool", "device")
HOST_ENVS = {"ppo": "CartPole-v1", "off": "Pendulum-v1"}
DEVICE_ENVS = {"ppo": "phys2d/CartPole-v1", "off": "phys2d/Pendulum-v0"}
# Full matrix: num_envs per backend (async stops at 64: one process per env).
FULL_NUM_ENVS = {"sync": (1, 8, 64, 256), "async": (8, 64), "vector_entry_point": (8, 64, 256, 1024),
                 "envpool": (8, 64, 256, 1024), "device": (8, 64, 256, 1024)}
# One cell per backend and per kind of agent; each device cell costs ~10 s of compilation.
QUICK_CELLS = ("ppo-mlp:sync:8", "ppo-mlp:vector_entry_point:64", "ppo-mlp:async:8", "ppo-mlp:device:64",
               "ppo-lstm:sync:8", "sac:sync:1")


class Cell(NamedTuple):
    algorithm: str  # one of ALGORITHMS
    backend: str  # one of BACKENDS
    num_envs: int

    @classmethod
    def parse(cls, text: str) -> Cell:
        """``"ALGORITHM:BACKEND:NUM_ENVS"``; ``ValueError`` naming the bad part."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"cell {text!r} must be ALGORITHM:BACKEND:NUM_ENVS, e.g. ppo-mlp:sync:8")
        algorithm, backend, num_envs = parts
        if algorithm not in ALGORITHMS:
            raise ValueError(f"cell {text!r}: algorithm must be one of {ALGORITHMS}")
        if backend not in BACKENDS:
            raise ValueError(f"cell {text!r}: backend must be one of {BACKENDS}")
        if not num_envs.isdigit() or int(num_envs) < 1:
            raise ValueError(f"cell {text!r}: num_envs must be a positive integer")
        return cls(algorithm, backend, int(num_envs))

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.backend}:{self.num_envs}"


def full_matrix() -> list[Cell]:
    """Every sensible cell; ``envpool`` only where it is installed (an optional extra)."""
    import importlib.util

    cells = []
    for algorithm in ALGORITHMS:
        for backend, sizes in FULL_NUM_ENVS.items():
            for num_envs in sizes:
                if algorithm in ("ddpg", "td3", "sac") and num_envs > 64:
                    continue  # one gradient step per vector step: more envs only starve the learner
                if backend == "vector_entry_point" and not algorithm.startswith("ppo"):
                    continue  # gymnasium's Pendulum-v1 has no vector entry point
                if backend == "envpool" and importlib.util.find_spec("envpool") is None:
                    continue
                cells.append(Cell(algorithm, backend, num_envs))
    return cells


# --- one cell, measured inside its own process ---------------------------------------------------


def _config(cell: Cell, quick: bool) -> tuple[str, Any]:
    """``(registry algorithm, config)`` for a cell: CleanRL-like PPO, Pendulum off-policy."""
    import jaxrl

    on_policy = cell.algorithm.startswith("ppo")
    env = (DEVICE_ENVS if cell.backend == "device" else HOST_ENVS)["ppo" if on_policy else "off"]
    vectorization = "sync" if cell.backend == "device" else cell.backend
    common = {"num_envs": cell.num_envs, "vectorization": vectorization, "progress": False, "checkpoint_every": 0}
    if on_policy:
        updates = 3 if quick else 12
        values = {"num_steps": 128, "update_epochs": 4, "num_minibatches": 4, "hidden_sizes": (64, 64),
                  "policy": "lstm" if cell.algorithm == "ppo-lstm" else "mlp", "seq_len": 16, "lstm_hidden_size": 64}
        values["total_timesteps"] = updates * 128 * cell.num_envs
        return "ppo", jaxrl.config_for("ppo", env, **common, **values)
    algorithm = cell.algorithm
    records = 4 if quick else 8
    record_steps = max(cell.num_envs, 100 if quick else 1000)
    values = {"hidden_sizes": (256, 256), "batch_size": 256, "learning_starts": record_steps, "buffer_size": 100_000,
              "log_every": record_steps, "total_timesteps": records * record_steps}
    return algorithm, jaxrl.config_for(algorithm, env, **common, **values)


def _min_seconds(quick: bool) -> float:
    """How long each rate is timed for."""
    return 0.3 if quick else 1.0


def _timed_rate(run: Any, steps_per_call: int, min_seconds: float) -> float:
    """Env steps per second of ``run()``: called once to warm up (compile), then repeatedly for at
    least ``min_seconds`` and 3 calls; the median call sets the rate, so a one-off pause (a garbage
    collection, another process on a shared machine) does not."""
    run()
    durations: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(durations) < 3:
        call_start = time.perf_counter()
        run()
        durations.append(time.perf_counter() - call_start)
    durations.sort()
    return steps_per_call / durations[len(durations) // 2]


def _host_rates(algorithm: str, config: Any, quick: bool) -> tuple[float, float, float]:
    """(env_sps, policy_sps, act_sps): the gymnasium vector env alone, the per-step policy call alone,
    and the two together."""
    import jax
    import numpy as np

    from jaxrl.envs.host import host_env_for
    from jaxrl.loops.host import EpisodeTracker, collect_rollout, initial_actor_input
    from jaxrl.registry import agent_for

    env = host_env_for(config)
    try:
        steps = 64 if quick else 256
        rng = np.random.default_rng(0)
        spec = env.spec
        if spec.discrete:
            actions = rng.integers(0, spec.action_dim, (steps, env.num_envs))
        else:
            actions = rng.uniform(-1, 1, (steps, env.num_envs, spec.action_dim)).astype(np.float32)
        env.reset(seed=0)

        def env_only():
            for t in range(steps):
                env.step(actions[t])

        env_sps = _timed_rate(env_only, steps * env.num_envs, _min_seconds(quick))
        agent = agent_for(algorithm, config)
        state = jax.device_put(agent.init(jax.random.PRNGKey(0), spec, config))
        tracker = EpisodeTracker(env.num_envs)
        if algorithm == "ppo":
            actor = [initial_actor_input(agent, state, env.reset(seed=1))]

            def acting():
                rollout, actor[0] = collect_rollout(env, agent, state, actor[0], jax.random.PRNGKey(2), steps,
                                                    tracker)
                jax.block_until_ready(rollout.rollout.values if hasattr(rollout, "carries") else rollout.values)
        else:
            obs = [env.reset(seed=1)]

            def acting():
                for t in range(steps):
                    obs[0] = env.step(_off_policy_action(agent, state, obs[0], t)).obs

        act_sps = _timed_rate(acting, steps * env.num_envs, _min_seconds(quick))
        policy_sps = _timed_rate(_policy_alone(algorithm, agent, state, env.reset(seed=2), steps),
                                 steps * env.num_envs, _min_seconds(quick))
    finally:
        env.close()
    return env_sps, policy_sps, act_sps


def _update_rate(config: Any, state: Any, quick: bool) -> float:
    """PPO's update alone on one rollout of ``config``'s size, in env steps of data per second. ``state``
    is the training run's final state, so the update the run compiled is reused."""
    import jax

    from jaxrl.envs.host import host_env_for
    from jaxrl.loops.host import EpisodeTracker, collect_rollout, initial_actor_input
    from jaxrl.registry import agent_for

    agent = agent_for("ppo", config)
    env = host_env_for(config)
    try:
        actor = initial_actor_input(agent, state, env.reset(seed=3))
        rollout, _ = collect_rollout(env, agent, state, actor, jax.random.PRNGKey(4), config.num_steps,
                                     EpisodeTracker(env.num_envs))
    finally:
        env.close()
    return _timed_rate(lambda: jax.block_until_ready(agent.update(state, rollout, jax.random.PRNGKey(5))),
                       config.batch_size, _min_seconds(quick))


def _off_policy_action(agent: Any, state: Any, obs: Any, t: int) -> Any:
    """An off-policy agent's exploring actions for ``obs [B, ...]`` at step ``t``, fetched to the host."""
    import jax
    import numpy as np

    return np.array(agent.act(state, obs, jax.random.PRNGKey(t))[0])


def _policy_alone(algorithm: str, agent: Any, state: Any, obs: Any, steps: int) -> Any:
    """``steps`` calls of the acting loop's per-step policy call on fixed ``obs [B, ...]``, actions fetched
    to the host each time: the policy's share of a step, without the env."""
    import jax
    import numpy as np

    from jaxrl.loops.host import acting_view, initial_actor_input

    if algorithm != "ppo":
        return lambda: [_off_policy_action(agent, state, obs, t) for t in range(steps)]
    acting = acting_view(state)
    actor = initial_actor_input(agent, state, obs)
    recurrent = (actor.carry, actor.episode_start) if actor.carry is not None else ()
    noise = np.asarray(agent.action_noise(state.spec, jax.random.PRNGKey(3), (steps, len(obs))))
    return lambda: [np.array(agent.act_from_noise(acting, obs, noise[t], *recurrent)[0]) for t in range(steps)]


def _host_train(algorithm: str, config: Any) -> tuple[float, float, Any]:
    """(train_sps over the steady records, compile_s: the first timed record's time beyond a steady one,
    the final train state).

    PPO: every record is an update, the first one compiles. Off-policy: record 1 is the random
    phase (``learning_starts`` = one record), record 2 compiles the update, and the last record
    compiles the last step's variant (no next action), so the steady stretch ends one record early.
    """
    import jaxrl

    result = jaxrl.train(algorithm, config)
    history = result.history
    first_timed, last_timed = (0, len(history) - 1) if algorithm == "ppo" else (1, len(history) - 2)
    start, last = history[first_timed], history[last_timed]
    steady_s = (last["time_s"] - start["time_s"]) / (last_timed - first_timed)
    steady_sps = (last["env_steps"] - start["env_steps"]) / (last["time_s"] - start["time_s"])
    before = history[first_timed - 1]["time_s"] if first_timed else 0.0
    return steady_sps, max(0.0, start["time_s"] - before - steady_s), result.state


def _device_rates(algorithm: str, config: Any, quick: bool) -> tuple[float, float, float, float]:
    """(env_sps, act_sps, train_sps, compile_s) of the device loop, all inside jitted scans."""
    import jax

    from jaxrl.envs.device import make_device_env
    from jaxrl.loops.device import run_device
    from jaxrl.registry import agent_for

    env = make_device_env(config.env)
    agent = agent_for(algorithm, config)
    spec, num_envs, steps = env.spec, config.num_envs, 128 if quick else 512

    def random_actions(key):
        if spec.discrete:
            return jax.random.randint(key, (num_envs,), 0, spec.action_dim)
        return jax.random.uniform(key, (num_envs, spec.action_dim), minval=-1.0, maxval=1.0)

    def rollout(policy_state, key):
        env_state, obs = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def step(carry, step_key):
            env_state, obs = carry
            action_key, env_key = jax.random.split(step_key)
            if policy_state is None:
                actions = random_actions(action_key)
            else:
                actions = agent.act(policy_state, obs, action_key)[0]
            out = jax.vmap(env.step)(env_state, actions, jax.random.split(env_key, num_envs))
            return (out.env_state, out.obs), out.reward

        return jax.lax.scan(step, (env_state, obs), jax.random.split(key, steps))[1]

    env_only = jax.jit(lambda key: rollout(None, key))
    state = agent.init(jax.random.PRNGKey(0), spec, config)
    acting = jax.jit(rollout)
    seconds = _min_seconds(quick)
    env_sps = _timed_rate(lambda: jax.block_until_ready(env_only(jax.random.PRNGKey(1))), steps * num_envs, seconds)
    act_sps = None  # the LSTM's acting (carry threading) is measured in the host loop only
    if not (algorithm == "ppo" and config.policy == "lstm"):
        act_sps = _timed_rate(lambda: jax.block_until_ready(acting(state, jax.random.PRNGKey(1))), steps * num_envs,
                              seconds)
    summary = run_device(algorithm, dataclasses.replace(config, checkpoint_every=0), num_seeds=1).summary
    return env_sps, act_sps, summary["aggregate_sps"], summary["compile_s"]


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def _peak_device_mb() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


def _serial_rate(*rates: float | None) -> float | None:
    """Steps per second of stages run one after the other at ``rates`` each (None if one is unknown)."""
    if any(rate is None for rate in rates):
        return None
    return 1.0 / sum(1.0 / rate for rate in rates)


def measure_cell(cell: Cell, quick: bool) -> dict[str, Any]:
    """Every figure of one cell, in this process (see the module docstring)."""
    algorithm, config = _config(cell, quick)
    if cell.backend == "device":
        env_sps, act_sps, train_sps, compile_s = _device_rates(algorithm, config, quick)
        policy_sps = update_sps = None
    else:
        env_sps, policy_sps, act_sps = _host_rates(algorithm, config, quick)
        train_sps, compile_s, final_state = _host_train(algorithm, config)
        update_sps = _update_rate(config, final_state, quick) if algorithm == "ppo" else None
    # The host loop runs policy and env one after the other, and PPO's update after the rollout, so
    # act_sps <= 1 / (1/env_sps + 1/policy_sps) and train_sps <= 1 / (1/act_sps + 1/update_sps).
    act_bound = _serial_rate(env_sps, policy_sps)
    train_bound = _serial_rate(act_sps, update_sps)
    return {
        "algorithm": cell.algorithm, "backend": cell.backend, "num_envs": cell.num_envs, "env": config.env,
        "env_sps": env_sps, "policy_sps": policy_sps, "act_sps": act_sps, "update_sps": update_sps,
        "train_sps": train_sps, "act_bound_sps": act_bound, "train_bound_sps": train_bound,
        "train_over_act": train_sps / act_sps if act_sps else None,
        "act_over_env": act_sps / env_sps if act_sps else None,
        "act_over_bound": act_sps / act_bound if act_sps and act_bound else None,
        "train_over_bound": train_sps / train_bound if train_bound else None, "compile_s": compile_s,
        "peak_rss_mb": _peak_rss_mb(), "peak_device_mb": _peak_device_mb(),
        "total_timesteps": config.total_timesteps,
    }


# --- the matrix: one subprocess per cell, a table, a result file ---------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment_facts() -> dict[str, Any]:
    """Machine, CPU, device and versions, stamped into every result file."""
    import jax

    devices = jax.devices()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "device_kind": devices[0].device_kind,
        "device_platform": devices[0].platform,
        "device_count": len(devices),
        "versions": {p: _version(p) for p in ("jax", "jaxlib", "flax", "optax", "gymnasium", "numpy", "jaxrl")},
    }


def write_result(name: str, payload: dict[str, Any], results_dir: Path, path: Path | None = None) -> Path:
    """Write ``{facts..., **payload}`` to ``results_dir/<name>__<device>__<date>.json`` (or over ``path``,
    a file this run wrote before), atomically: a reader never sees half a file."""
    facts = environment_facts()
    if path is None:
        results_dir.mkdir(parents=True, exist_ok=True)
        stamp = facts["date"][:19].replace(":", "").replace("-", "")
        device = facts["device_kind"].replace(" ", "_").replace("/", "_")
        path = results_dir / f"{name}__{device}__{stamp}.json"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({**facts, **payload}, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def run_cell_subprocess(cell: Cell, quick: bool, timeout_s: float = 600.0) -> dict[str, Any]:
    """Measure ``cell`` in a fresh Python process; a failure becomes a row with ``error``."""
    command = [sys.executable, "-m", "jaxrl.bench", "--measure-cell", str(cell)] + (["--quick"] if quick else [])
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**cell._asdict(), "error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {**cell._asdict(), "error": lines[-1] if lines else f"exit code {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# (row key, title, width, number format; None: text, left-aligned)
COLUMNS = (("algorithm", "algorithm", 10, None), ("backend", "backend", 19, None), ("num_envs", "envs", 6, "d"),
           ("env_sps", "env SPS", 11, ",.0f"), ("policy_sps", "policy SPS", 12, ",.0f"),
           ("act_sps", "act SPS", 11, ",.0f"), ("update_sps", "update SPS", 12, ",.0f"),
           ("train_sps", "train SPS", 11, ",.0f"), ("act_over_env", "act/env", 9, ".2f"),
           ("train_over_act", "train/act", 10, ".2f"), ("act_over_bound", "act/bnd", 9, ".2f"),
           ("train_over_bound", "train/bnd", 10, ".2f"), ("compile_s", "compile s", 10, ".1f"),
           ("peak_rss_mb", "RSS MB", 9, ",.0f"))


def table_header() -> str:
    return "".join(f"{title:<{width}}" if fmt is None else f"{title:>{width}}" for _, title, width, fmt in COLUMNS)


def format_row(row: dict[str, Any]) -> str:
    """One table line; a failed cell shows its error after the cell's name."""
    if "error" in row:
        return f"{row['algorithm']:<10}{row['backend']:<19}{row['num_envs']:>6}  error: {row['error']}"
    cells = []
    for key, _, width, fmt in COLUMNS:
        value = row.get(key)
        if fmt is None:
            cells.append(f"{value:<{width}}")
        else:
            cells.append(f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}")
    return "".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jaxrl bench", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"the cells {', '.join(QUICK_CELLS)}, short runs")
    parser.add_argument("--cells", nargs="+", default=None, help="ALGORITHM:BACKEND:NUM_ENVS ... (default: matrix)")
    parser.add_argument("--results-dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--measure-cell", default=None, help=argparse.SUPPRESS)  # the per-cell subprocess
    args = parser.parse_args(argv)
    if args.measure_cell is not None:
        print(json.dumps(measure_cell(Cell.parse(args.measure_cell), args.quick)))
        return 0
    try:
        cells = [Cell.parse(text) for text in args.cells] if args.cells else \
            [Cell.parse(text) for text in QUICK_CELLS] if args.quick else full_matrix()
    except ValueError as err:
        parser.error(str(err))
    import jax

    print(f"device: {jax.devices()[0].device_kind} x {len(jax.devices())}\n{table_header()}", flush=True)
    rows, start, path = [], time.perf_counter(), None
    for cell in cells:
        rows.append(run_cell_subprocess(cell, args.quick))
        print(format_row(rows[-1]), flush=True)
        if not args.no_write:  # rewritten after every cell: an interrupted matrix keeps what it measured
            payload = {"benchmark": "throughput", "quick": args.quick, "cells": [str(c) for c in cells],
                       "complete": len(rows) == len(cells), "rows": rows}
            path = write_result("throughput", payload, args.results_dir, path)
    print(f"{len(cells)} cells in {time.perf_counter() - start:.0f} s")
    if path is not None:
        print("wrote", path)
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
