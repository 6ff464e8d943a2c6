"""One cell of the throughput matrix, measured inside its own process (see :mod:`jaxrl.bench`).

Uses the public API only: ``jaxrl.train`` / ``jaxrl.run_device`` / ``jaxrl.agent_for``, the
env adapters and :mod:`jaxrl.loops.acting` (the host loop's documented acting functions).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from jaxrl.bench import ATARI_ALGORITHMS, DEVICE_ENVS, HOST_ENVS, Cell


def _config(cell: Cell, quick: bool) -> tuple[str, Any]:
    """``(registry algorithm, config)`` for a cell: CleanRL-like PPO, Pendulum off-policy, or an Atari
    preset (its networks and update as they train, on a shorter schedule)."""
    import jaxrl

    on_policy = cell.algorithm.startswith("ppo")
    vectorization = "sync" if cell.backend == "device" else cell.backend
    common = {"num_envs": cell.num_envs, "vectorization": vectorization, "progress": False, "checkpoint_every": 0}
    updates = 3 if quick else 12
    records = 4 if quick else 8
    if cell.algorithm in ATARI_ALGORITHMS:
        algorithm = cell.algorithm.removesuffix("-atari")
        preset = jaxrl.config_for(algorithm, HOST_ENVS["atari"], **common)
        if on_policy:
            return algorithm, dataclasses.replace(preset, total_timesteps=updates * preset.num_steps * cell.num_envs)
        # a 10k-frame replay (0.6 GB) and learning from the first record: the update, not the memory, is timed
        record_steps = max(cell.num_envs, 100 if quick else 500)
        return algorithm, dataclasses.replace(preset, buffer_size=10_000, learning_starts=record_steps,
                                              log_every=record_steps, total_timesteps=records * record_steps)
    env = (DEVICE_ENVS if cell.backend == "device" else HOST_ENVS)["ppo" if on_policy else "off"]
    if on_policy:
        values = {"num_steps": 128, "update_epochs": 4, "num_minibatches": 4, "hidden_sizes": (64, 64),
                  "policy": cell.algorithm.removeprefix("ppo-"), "seq_len": 16, "lstm_hidden_size": 64}
        values["total_timesteps"] = updates * 128 * cell.num_envs
        return "ppo", jaxrl.config_for("ppo", env, **common, **values)
    algorithm = cell.algorithm
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

    import jaxrl
    from jaxrl.envs.host import host_env_for
    from jaxrl.envs.spec import uniform_actions_numpy
    from jaxrl.loops.acting import collect_rollout, initial_actor_input
    from jaxrl.loops.episodes import EpisodeTracker

    env = host_env_for(config)
    try:
        steps = 64 if quick else 256
        rng = np.random.default_rng(0)
        spec = env.spec
        actions = np.stack([uniform_actions_numpy(spec, rng, env.num_envs) for _ in range(steps)])
        env.reset(seed=0)

        def env_only():
            for t in range(steps):
                env.step(actions[t])

        env_sps = _timed_rate(env_only, steps * env.num_envs, _min_seconds(quick))
        agent = jaxrl.agent_for(algorithm, config)
        state = jax.device_put(agent.init(jax.random.PRNGKey(0), spec, config))
        tracker = EpisodeTracker(env.num_envs)
        if algorithm == "ppo":
            actor = [initial_actor_input(agent, state, env.reset(seed=1))]

            def acting():
                rollout, actor[0] = collect_rollout(env, agent, state, actor[0], jax.random.PRNGKey(2), steps,
                                                    tracker)
                jax.block_until_ready(rollout.extras)
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

    import jaxrl
    from jaxrl.envs.host import host_env_for
    from jaxrl.loops.acting import collect_rollout, initial_actor_input
    from jaxrl.loops.episodes import EpisodeTracker

    agent = jaxrl.agent_for("ppo", config)
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

    from jaxrl.loops.acting import jitted_exploring_step

    starts = np.zeros(obs.shape[0], bool)
    return np.array(jitted_exploring_step(agent)(state, obs, jax.random.PRNGKey(t), None, starts, None)[0])


def _policy_alone(algorithm: str, agent: Any, state: Any, obs: Any, steps: int) -> Any:
    """``steps`` calls of the acting loop's per-step policy call on fixed ``obs [B, ...]``, actions fetched
    to the host each time: the policy's share of a step, without the env."""
    import jax
    import numpy as np

    from jaxrl.loops.acting import acting_view, initial_actor_input, jitted_explore_and_act

    if algorithm != "ppo":
        return lambda: [_off_policy_action(agent, state, obs, t) for t in range(steps)]
    acting = acting_view(state)
    _, carry, starts, exploration = initial_actor_input(agent, state, obs)
    noise = np.asarray(agent.sample_noise(state, jax.random.PRNGKey(3), (steps, len(obs))))
    step = jitted_explore_and_act(agent)
    return lambda: [np.array(step(acting, obs, noise[t], carry, starts, exploration)[0]) for t in range(steps)]


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


def device_env_sps(env: Any, num_envs: int, steps: int, min_seconds: float, steps_per_start: int | None = None) -> float:
    """Env steps per second of ``num_envs`` vmapped JAX envs (a :class:`~jaxrl.envs.device.DeviceEnv`)
    under uniformly random actions, ``steps`` of them in one jitted scan per call (compile excluded).

    ``steps_per_start=None`` times :attr:`~jaxrl.envs.device.DeviceEnv.step`, which draws a fresh
    start at every step; ``steps_per_start=N`` draws each env's start once per ``N`` steps and
    restarts ended episodes from it, as a run with ``fresh_starts="rollout"`` and ``num_steps=N``
    plays its envs (``steps`` rounded up to whole rollouts)."""
    import jax

    from jaxrl.envs.device import step_envs, step_keys
    from jaxrl.envs.spec import uniform_actions

    def random_step(env_state, step_key, starts):
        action_key, env_key = jax.random.split(step_key)
        actions = uniform_actions(env.spec, action_key, num_envs)
        out = step_envs(env, env_state, actions, step_keys(env_key, (num_envs,)), starts)
        return out.env_state, out.reward

    def rollout(key):
        env_state, _ = jax.vmap(env.reset)(jax.random.split(key, num_envs))
        if steps_per_start is None:
            return jax.lax.scan(lambda state, k: random_step(state, k, None), env_state, jax.random.split(key, steps))[1]

        def one_rollout(env_state, rollout_key):
            start_key, steps_key = jax.random.split(rollout_key)
            starts = jax.vmap(env.reset)(jax.random.split(start_key, num_envs))
            return jax.lax.scan(lambda state, k: random_step(state, k, starts), env_state,
                                jax.random.split(steps_key, steps_per_start))

        return jax.lax.scan(one_rollout, env_state, jax.random.split(key, num_rollouts))[1]

    num_rollouts = -(-steps // steps_per_start) if steps_per_start else 1
    timed_steps = num_rollouts * steps_per_start if steps_per_start else steps
    env_only = jax.jit(rollout)
    return _timed_rate(lambda: jax.block_until_ready(env_only(jax.random.PRNGKey(1))), timed_steps * num_envs,
                       min_seconds)


def steps_per_start(config: Any) -> int | None:
    """The ``steps_per_start`` of :func:`device_env_sps` that plays the envs as ``config``'s device
    run does: its rollout length (replay schedules: a metrics record's steps) where it draws start
    states per rollout, else ``None``."""
    from jaxrl.config import OnPolicyConfig
    from jaxrl.loops.schedules import off_policy_records

    if config.fresh_starts != "rollout":
        return None
    return config.num_steps if isinstance(config, OnPolicyConfig) else off_policy_records(config)[0]


def _device_rates(algorithm: str, config: Any, quick: bool) -> tuple[float, float, float, float]:
    """(env_sps, act_sps, train_sps, compile_s) of the device loop, all inside jitted scans."""
    import jax

    import jaxrl
    from jaxrl.envs.device import make_device_env, step_keys

    env = make_device_env(config.env)
    agent = jaxrl.agent_for(algorithm, config)
    spec, num_envs, steps = env.spec, config.num_envs, 128 if quick else 512

    def rollout(policy_state, key):
        env_state, obs = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def step(carry, step_key):
            env_state, obs = carry
            action_key, env_key = jax.random.split(step_key)
            actions = agent.act(policy_state, obs, agent.sample_noise(policy_state, action_key, (num_envs,)))[0]
            out = jax.vmap(env.step)(env_state, actions, step_keys(env_key, (num_envs,)))
            return (out.env_state, out.obs), out.reward

        return jax.lax.scan(step, (env_state, obs), jax.random.split(key, steps))[1]

    state = agent.init(jax.random.PRNGKey(0), spec, config)
    acting = jax.jit(rollout)
    seconds = _min_seconds(quick)
    env_sps = device_env_sps(env, num_envs, steps, seconds)
    act_sps = None  # the LSTM's acting (carry threading) is measured in the host loop only
    if not (algorithm == "ppo" and config.policy != "mlp"):
        act_sps = _timed_rate(lambda: jax.block_until_ready(acting(state, jax.random.PRNGKey(1))), steps * num_envs,
                              seconds)
    summary = jaxrl.run_device(algorithm, dataclasses.replace(config, checkpoint_every=0), num_seeds=1).summary
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
