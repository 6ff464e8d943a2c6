"""Where a device-loop PPO iteration spends its time: each piece jitted and timed alone.

    python benchmarks/profile_ppo.py                       # the issue's small and large configs
    python benchmarks/profile_ppo.py --sizes 2048x64 --trace /tmp/ppo-trace

Pieces of one iteration (``num_steps`` env steps, then one update), on a rollout the loop
really collected: the acting scan (policy + env, every step), the next values (acting's reused,
the critic on the rest; beside it, the critic over every ``next_obs`` it replaced), GAE, one
epoch's shuffle (permutation + gather), one minibatch's loss gradient, one optimizer step, the
whole update, and the whole iteration. Each is compiled once and timed as the median of
``--repeats`` calls; XLA's cost analysis of the whole iteration gives its flops and bytes.
``--trace DIR`` also writes a ``jax.profiler`` trace of a few iterations (open it in Perfetto /
TensorBoard). Writes ``benchmarks/results/profile_ppo__<device>__<date>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result
from device_loop import PEER_CONFIG

from jaxrl.agents import ppo
from jaxrl.agents.registry import get_algorithm
from jaxrl.core.bootstrap import next_observation_values
from jaxrl.core.minibatches import shuffled_minibatches
from jaxrl.envs.device import make_device_env
from jaxrl.loops import device as loop


def median_ms(function, *args, repeats: int) -> float:
    """Median wall-clock of ``repeats`` calls of the compiled ``function(*args)``, in ms."""
    compiled = jax.jit(function).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def profile(num_envs: int, num_steps: int, repeats: int) -> dict:
    config = dataclasses.replace(PEER_CONFIG, num_envs=num_envs, num_steps=num_steps,
                                 total_timesteps=num_envs * num_steps * 10)
    agent = get_algorithm("ppo").agent_for(config)
    env = make_device_env(config.env)
    program = loop.make_on_policy_program(agent, config, env)
    carry = program.init(jax.random.PRNGKey(0))
    state = carry.state

    def acting(carry):
        """The iteration's acting scan alone (the loop's own), its transitions as a Rollout."""
        noise = agent.sample_noise(state, jax.random.PRNGKey(1), (num_steps, num_envs))
        keys = loop.step_keys(jax.random.PRNGKey(2), (num_steps, num_envs))
        return loop.scan_rollout(agent, env, carry.state, carry.actor, noise, keys)[1]

    rollout = jax.jit(acting)(carry)
    key = jax.random.PRNGKey(3)
    next_values = ppo.state_value(state, rollout.next_obs)
    advantages, returns = ppo.advantages_and_returns(state, rollout, next_values)
    samples = {"obs": rollout.obs.reshape(-1, *rollout.obs.shape[2:]), "actions": rollout.actions.reshape(-1),
               "log_probs": rollout.extras["log_prob"].reshape(-1), "values": rollout.extras["value"].reshape(-1),
               "advantages": advantages.reshape(-1), "returns": returns.reshape(-1), "mask": rollout.mask.reshape(-1)}
    minibatch = jax.tree.map(lambda x: x[: x.shape[0] // config.num_minibatches], samples)
    grad = jax.grad(lambda params, mb: ppo._loss(state, params, mb, ppo._evaluate_transitions)[0])
    grads = grad(state.params, minibatch)
    iteration = jax.jit(lambda carry: program.run(carry, jnp.arange(1))).lower(carry).compile()
    cost = (iteration.cost_analysis() or [{}])
    cost = cost[0] if isinstance(cost, list) else cost
    pieces = {
        "acting_scan": median_ms(acting, carry, repeats=repeats),
        "next_values": median_ms(lambda s, r: next_observation_values(lambda obs: ppo.state_value(s, obs), r.obs,
                                                                      r.next_obs, r.extras["value"], r.terminated),
                                 state, rollout, repeats=repeats),
        "critic_over_every_next_obs": median_ms(lambda s, r: ppo.state_value(s, r.next_obs), state, rollout,
                                                repeats=repeats),  # what next_values replaced
        "gae": median_ms(lambda s, r, v: ppo.advantages_and_returns(s, r, v), state, rollout, next_values,
                         repeats=repeats),
        "epoch_shuffle": median_ms(lambda k, s: shuffled_minibatches(k, s, config.num_minibatches), key, samples,
                                   repeats=repeats),
        "minibatch_gradient": median_ms(grad, state.params, minibatch, repeats=repeats),
        "optimizer_step": median_ms(lambda s, g: ppo._apply_gradients(s, s.params, s.opt_state, g, 1.0)[0], state,
                                    grads, repeats=repeats),
        "update": median_ms(lambda s, r, k: ppo._update(s, r, k), state, rollout, key, repeats=repeats),
        "iteration": median_ms(lambda c: program.run(c, jnp.arange(1)), carry, repeats=repeats),
    }
    minibatch_steps = config.update_epochs * config.num_minibatches
    return {"num_envs": num_envs, "num_steps": num_steps, "update_epochs": config.update_epochs,
            "num_minibatches": config.num_minibatches, "ms": pieces,
            "ms_per_iteration_estimate": {
                "acting": pieces["acting_scan"], "next_value_and_gae": pieces["next_values"] + pieces["gae"],
                "shuffles": config.update_epochs * pieces["epoch_shuffle"],
                "gradients": minibatch_steps * pieces["minibatch_gradient"],
                "optimizer": minibatch_steps * pieces["optimizer_step"]},
            "iteration_flops": cost.get("flops"), "iteration_bytes_accessed": cost.get("bytes accessed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=None, help="ENVSxSTEPS (default: 8x128 and a large one)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per piece (fastest kept)")
    parser.add_argument("--trace", default=None, help="write a jax.profiler trace of the last size here")
    args = parser.parse_args()
    large = "1024x64" if jax.default_backend() == "cpu" else "8192x64"
    sizes = args.sizes or ["8x128", large]
    results = []
    for size in sizes:
        num_envs, num_steps = (int(part) for part in size.split("x"))
        results.append(profile(num_envs, num_steps, args.repeats))
        print(json.dumps(results[-1]), flush=True)
    if args.trace:
        num_envs, num_steps = (int(part) for part in sizes[-1].split("x"))
        config = dataclasses.replace(PEER_CONFIG, num_envs=num_envs, num_steps=num_steps,
                                     total_timesteps=num_envs * num_steps * 10)
        program = loop.make_program("ppo", config)
        run = jax.jit(lambda carry: program.run(carry, jnp.arange(5)))
        carry = program.init(jax.random.PRNGKey(0))
        jax.block_until_ready(run(carry))
        with jax.profiler.trace(args.trace):
            jax.block_until_ready(run(carry))
    print(f"wrote {write_result('profile_ppo', {'env': PEER_CONFIG.env, 'sizes': results})}")


if __name__ == "__main__":
    main()
