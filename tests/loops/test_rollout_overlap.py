"""collect_rollout overlaps the next policy call with host bookkeeping; the trajectory must be exactly
that of the plain act-then-step loop."""

import jax
import numpy as np
import pytest

from jaxrl.agents import ppo, recurrent_ppo
from jaxrl.agents.ppo import PPOConfig
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.loops.acting import acting_view, collect_rollout, initial_actor_input
from jaxrl.loops.episodes import EpisodeTracker


def plain_rollout(env, agent, state, obs, carry, episode_start, key, num_steps):
    """The reference: act, wait, step, record, in that order, one step at a time."""
    noise = np.asarray(agent.sample_noise(state, key, (num_steps, env.num_envs)))
    acting = acting_view(state)
    columns = {"obs": [], "actions": [], "log_prob": [], "value": [], "rewards": [], "next_obs": [],
               "terminated": []}
    for t in range(num_steps):
        action, extras, carry = agent.act(acting, obs, noise[t], carry, episode_start)
        step = env.step(np.asarray(action))
        for name, value in (("obs", obs), ("actions", action), ("log_prob", extras["log_prob"]),
                            ("value", extras["value"]), ("rewards", step.rewards), ("next_obs", step.next_obs),
                            ("terminated", step.terminated)):
            columns[name].append(np.asarray(value))
        obs, episode_start = step.obs, step.obs_is_reset
    return {name: np.stack(values) for name, values in columns.items()}, obs


@pytest.mark.parametrize("agent, policy", [(ppo.PPO, "mlp"), (recurrent_ppo.RECURRENT_PPO, "lstm")])
def test_overlapped_rollout_equals_the_plain_loop(agent, policy):
    config = PPOConfig(num_envs=4, num_steps=64, policy=policy, hidden_sizes=(16,), lstm_hidden_size=8, seq_len=8)
    envs = [HostVectorEnv(make_vector_env("CartPole-v1", 4, "sync")) for _ in range(2)]
    try:
        state = agent.init(jax.random.PRNGKey(0), envs[0].spec, config)
        first = initial_actor_input(agent, state, envs[0].reset(seed=5))
        rollout, after = collect_rollout(envs[0], agent, state, first, jax.random.PRNGKey(1), 64,
                                         EpisodeTracker(4))
        start = initial_actor_input(agent, state, envs[1].reset(seed=5))
        reference, reference_obs = plain_rollout(envs[1], agent, state, start.obs, start.carry, start.episode_start,
                                                 jax.random.PRNGKey(1), 64)
    finally:
        for env in envs:
            env.close()
    assert reference["terminated"].any()  # episodes ended inside the rollout: resets are covered
    for name, expected in reference.items():
        got = rollout.extras[name] if name in ("log_prob", "value") else getattr(rollout, name)
        np.testing.assert_array_equal(np.asarray(got), expected, err_msg=name)
    np.testing.assert_array_equal(after.obs, reference_obs)
