"""PQN: epsilon-greedy acting owned by the agent, Q(lambda) updates, truncation bootstrapping, learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_options import train_seeds_at_users_optimisation

import jaxrl
from jaxrl.agents import pqn
from jaxrl.agents.pqn import PQNConfig
from jaxrl.types import EnvSpec, Rollout

SPEC = EnvSpec(observation_shape=(3,), discrete=True, action_dim=4)
SMALL = dict(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=2, total_timesteps=32 * 10,
             hidden_sizes=(16,), progress=False)


def test_epsilon_decays_linearly_then_stays():
    state = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**SMALL, eps_start=1.0, eps_finish=0.1,
                                                            exploration_fraction=0.5))
    # 10 updates, half of them decaying: 1.0 at update 0, 0.1 from update 5 on
    values = [float(pqn.epsilon(state.replace(update_step=jnp.int32(i)))) for i in (0, 1, 5, 9)]
    np.testing.assert_allclose(values, [1.0, 1.0 - 0.9 / 5, 0.1, 0.1], rtol=1e-6)


def test_act_is_greedy_without_noise_and_random_below_epsilon():
    state = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**SMALL))
    obs = jax.random.normal(jax.random.PRNGKey(1), (6, 3))
    greedy, extras, carry = pqn.act(state, obs, None)
    np.testing.assert_array_equal(greedy, jnp.argmax(pqn.q_values(state, state.params, obs), axis=-1))
    assert greedy.dtype == jnp.int32 and carry is None
    np.testing.assert_allclose(extras["max_q"], jnp.max(pqn.q_values(state, state.params, obs), axis=-1), rtol=1e-6)
    # epsilon is 1 at the first update: every action is the random one, floor(u * 4)
    noise = jnp.array([[0.5, 0.0], [0.5, 0.3], [0.5, 0.6], [0.5, 0.99], [0.5, 0.26], [0.99, 0.74]])
    actions, _, _ = pqn.act(state, obs, noise)
    np.testing.assert_array_equal(actions, [0, 1, 2, 3, 1, 2])
    late = state.replace(update_step=jnp.int32(10))  # epsilon 0.05: u = 0.5 acts greedily
    np.testing.assert_array_equal(pqn.act(late, obs, noise)[0], greedy)


def make_rollout(state, key, T=8, B=4):
    keys = jax.random.split(key, 4)
    obs = jax.random.normal(keys[0], (T, B, 3))
    actions = jax.random.randint(keys[1], (T, B), 0, 4)
    return Rollout(obs=obs, actions=actions, rewards=jax.random.normal(keys[2], (T, B)),
                   terminated=jax.random.bernoulli(keys[3], 0.1, (T, B)), truncated=jnp.zeros((T, B), bool),
                   next_obs=jnp.roll(obs, -1, axis=0),
                   extras={"max_q": jnp.max(pqn.q_values(state, state.params, obs), axis=-1)}, mask=jnp.ones((T, B)))


def test_update_steps_and_masked_steps_do_not_count():
    state = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**SMALL))
    rollout = make_rollout(state, jax.random.PRNGKey(1))
    rollout = rollout.replace(terminated=rollout.terminated.at[2, 1].set(True))
    mask = jnp.ones((8, 4)).at[3, 1].set(0.0)
    a, metrics = pqn.update(state, rollout.replace(mask=mask), jax.random.PRNGKey(2))
    assert int(a.update_step) == 1 and all(np.isfinite(float(v)) for v in metrics.values())
    assert float(jnp.abs(a.params["q_head"]["kernel"] - state.params["q_head"]["kernel"]).max()) > 0
    poisoned = rollout.replace(mask=mask, rewards=rollout.rewards.at[3, 1].set(1e6),
                               terminated=rollout.terminated.at[3, 1].set(True))
    b, _ = pqn.update(state, poisoned, jax.random.PRNGKey(2))
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=1e-6), a.params, b.params)


def test_reward_clip_equals_learning_from_rewards_clipped_beforehand():
    state = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**SMALL))
    rollout = make_rollout(state, jax.random.PRNGKey(1))
    rollout = rollout.replace(rewards=3.0 * rollout.rewards)  # most beyond +-1
    clipped = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**SMALL, reward_clip=1.0))
    with_clip, _ = pqn.update(clipped, rollout, jax.random.PRNGKey(2))
    beforehand, _ = pqn.update(state, rollout.replace(rewards=jnp.clip(rollout.rewards, -1, 1)), jax.random.PRNGKey(2))
    raw, _ = pqn.update(state, rollout, jax.random.PRNGKey(2))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), with_clip.params,
                 beforehand.params)
    assert not np.allclose(jax.tree.leaves(with_clip.params)[-1], jax.tree.leaves(raw.params)[-1])


def test_radam_takes_a_plain_gradient_step_first_where_adam_takes_the_sign():
    # RAdam's variance estimate is rectified only from step 5 on (rho_t < 5 before), so its first step is
    # the bias-corrected momentum, i.e. the gradient itself; Adam's first step is g / |g|. One minibatch,
    # one epoch, no clip: each update is one step on the same gradient from the same parameters.
    one_step = dict(SMALL, num_minibatches=1, update_epochs=1, max_grad_norm=1e9, learning_rate=1e-3)
    moved = {}
    for optimizer in ("adam", "radam"):
        state = pqn.init(jax.random.PRNGKey(0), SPEC, PQNConfig(**one_step, optimizer=optimizer))
        after, _ = pqn.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
        moved[optimizer] = np.concatenate([np.ravel(a - b) for a, b in zip(jax.tree.leaves(after.params),
                                                                          jax.tree.leaves(state.params))])
    gradient = -moved["radam"] / 1e-3
    clear = np.abs(gradient) > 1e-4  # where Adam's eps (1e-8) does not blur the sign
    assert clear.sum() > 50 and np.ptp(np.abs(gradient[clear])) > 1e-2  # a real gradient, not a sign
    np.testing.assert_allclose(moved["adam"][clear], -1e-3 * np.sign(gradient[clear]), rtol=1e-3)
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adam', 'radam'\], got 'sgd'"):
        PQNConfig(**SMALL, optimizer="sgd").validate()


def test_box_actions_and_bad_values_are_named():
    with pytest.raises(ValueError, match="PQN needs a Discrete action space.* a Box of 2 dimensions;"):
        pqn.init(jax.random.PRNGKey(0), EnvSpec((3,), False, 2, (-1.0, -1.0), (1.0, 1.0)), PQNConfig(**SMALL))
    with pytest.raises(ValueError, match="a Box of 1 dimension;"):
        pqn.init(jax.random.PRNGKey(0), EnvSpec((3,), False, 1, (-1.0,), (1.0,)), PQNConfig(**SMALL))
    for overrides, message in (({"q_lambda": 1.5}, r"q_lambda must be in \[0, 1\]"),
                               ({"exploration_fraction": 0.0}, r"exploration_fraction must be in \(0, 1\]"),
                               ({"num_minibatches": 3}, "must be divisible by num_minibatches")):
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(PQNConfig(**SMALL), **overrides).validate()


def start_value(env_id):
    # The observation is a constant 0, so only the Q head's bias can learn; Adam moves it ~learning_rate per
    # step, hence the large rate.
    config = jaxrl.config_for("pqn", env_id, total_timesteps=8 * 16 * 60, num_envs=8, num_steps=16, gamma=0.9,
                              learning_rate=3e-2, anneal_lr=False, hidden_sizes=(16,), progress=False)
    state = jaxrl.train("pqn", config).state
    return float(pqn.q_values(state, state.params, jnp.zeros((1, 1))).max())


def test_truncation_bootstraps_towards_the_infinite_horizon_value():
    # Reward 1 forever, cut at 20 steps: Q -> 1 / (1 - 0.9) = 10 when the cut bootstraps; if it were
    # terminal, the mean over the 20 steps of (1 - 0.9^(20 - t)) / 0.1, ~6.4.
    bootstrapped = start_value("jaxrl_test/ConstantReward-v0")
    as_terminal = start_value("jaxrl_test/ConstantRewardAsTermination-v0")
    assert abs(bootstrapped - 10.0) < 1.0, bootstrapped
    assert as_terminal < 8.0, as_terminal


def test_pqn_learns_cartpole_in_the_device_loop():
    config = jaxrl.config_for("pqn", "phys2d/CartPole-v1", total_timesteps=100_000, progress=False)
    # seeds 1 and 2, compiled as users' programs are: this one runs long enough for that to pay
    result = train_seeds_at_users_optimisation("pqn", config)
    returns = jaxrl.final_returns(np.asarray(result.metrics["episodic_return"]))
    # Random play scores ~22; seeds 1-2 and 5-6 reached 200-260 at 100k (500 at 200k).
    assert min(returns) > 120, returns
