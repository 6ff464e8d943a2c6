"""Evaluation of JAX envs on the device: every episode counted once, from its start to its first
end, and the same distribution of returns as the host evaluator's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.agents.registry import get_algorithm
from jaxrl.envs.device import with_autoreset
from jaxrl.loops.evaluate import evaluate
from jaxrl.loops.evaluate_device import evaluate_on_device
from jaxrl.types import EnvSpec

TIME_LIMIT = 6


def countdown_env():
    """Reward 1 per step; the episode terminates after ``k`` steps, ``k`` in 1..9 drawn at reset, so
    episodes with ``k > TIME_LIMIT`` are truncated at ``TIME_LIMIT``: the return is ``min(k, 6)``,
    which the test reads back from the first observation (``k``)."""
    spec = EnvSpec(observation_shape=(1,), discrete=True, action_dim=2)

    def raw_reset(key):
        k = jax.random.randint(key, (), 1, 10)
        return k, jnp.asarray([k], jnp.float32)

    def raw_step(left, action, key):
        left = left - 1
        return left, jnp.asarray([left], jnp.float32), jnp.float32(1.0), left <= 0

    return with_autoreset("test/Countdown", spec, TIME_LIMIT, raw_reset, raw_step)


def ppo_state(spec, seed=0, **overrides):
    config = jaxrl.config_for("ppo", "CartPole-v1", seed=seed, **overrides)
    agent = get_algorithm("ppo").agent_for(config)
    return agent, agent.init(jax.random.PRNGKey(seed), spec, config)


def test_each_episode_counts_from_its_start_to_its_first_end():
    env = countdown_env()
    agent, state = ppo_state(env.spec)
    episodes, seed = 64, 3
    returns, lengths = evaluate_on_device(agent, state, env, episodes, deterministic=True, seed=seed)
    # the episodes' k, as the evaluator's reset drew them (its first split of PRNGKey(seed))
    reset_key = jax.random.split(jax.random.PRNGKey(seed))[0]
    ks = np.asarray(jax.vmap(env.reset)(jax.random.split(reset_key, episodes))[1])[:, 0]
    expected = np.minimum(ks, TIME_LIMIT)
    assert len(set(ks.tolist())) > 5  # episodes of many lengths ran side by side
    np.testing.assert_array_equal(returns, expected)
    np.testing.assert_array_equal(lengths, expected)


def test_unfinished_episodes_are_an_error():
    env = countdown_env()
    agent, state = ppo_state(env.spec)
    with pytest.raises(RuntimeError, match=r"only \d+ of 32 episodes finished within 2 steps"):
        evaluate_on_device(agent, state, env, 32, deterministic=True, max_steps=2)


@pytest.mark.parametrize("deterministic, policy", [(True, "mlp"), (False, "mlp"), (True, "gru")])
def test_same_returns_as_the_host_evaluator_in_distribution(deterministic, policy):
    """An untrained policy on phys2d/CartPole-v1 (the GRU's carry reset at each episode start): 40
    episodes each way, means within 4 standard errors (episode lengths vary with the start state)."""
    spec = EnvSpec(observation_shape=(4,), discrete=True, action_dim=2)
    agent, state = ppo_state(spec, seed=1, policy=policy)
    runs = {on_device: evaluate(agent, state, "phys2d/CartPole-v1", 40, deterministic, seed=7, on_device=on_device)
            for on_device in (True, False)}
    device, host = (np.asarray(runs[flag].returns) for flag in (True, False))
    assert runs[True].lengths == [int(r) for r in device]  # CartPole: reward 1 per step
    stderr = np.sqrt(device.var() / len(device) + host.var() / len(host))
    assert abs(device.mean() - host.mean()) < 4 * stderr + 0.5, (device.mean(), host.mean())


def test_stochastic_exploration_state_is_carried():
    """TD3 with Ornstein-Uhlenbeck acting noise (an exploration state per env) plays Pendulum's
    200-step episodes; sampled evaluation differs from the deterministic one."""
    config = jaxrl.config_for("td3", "phys2d/Pendulum-v0", noise_type="ou", exploration_noise=0.5)
    agent = get_algorithm("td3").agent_for(config)
    spec = EnvSpec(observation_shape=(3,), discrete=False, action_dim=1, action_low=(-2.0,), action_high=(2.0,))
    state = agent.init(jax.random.PRNGKey(0), spec, config)
    greedy = evaluate(agent, state, "phys2d/Pendulum-v0", 8, deterministic=True, seed=0)
    sampled = evaluate(agent, state, "phys2d/Pendulum-v0", 8, deterministic=False, seed=0)
    assert greedy.lengths == sampled.lengths == [200] * 8
    assert np.all(np.isfinite(sampled.returns)) and sampled.returns != greedy.returns
