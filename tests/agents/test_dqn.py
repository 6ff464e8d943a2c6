"""DQN: integer actions through the replay buffer, target-network cadence, double Q, epsilon from the schedule."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxrl
from jaxrl.agents import dqn
from jaxrl.agents.base import clip_by_global_norm
from jaxrl.agents.dqn import DQNConfig
from jaxrl.core.noise import epsilon_greedy
from jaxrl.core.replay import replay_add, replay_init, replay_sample
from jaxrl.loops.device import make_program
from jaxrl.types import EnvSpec, Transition

SPEC = EnvSpec(observation_shape=(3,), discrete=True, action_dim=2)
SMALL = dict(hidden_sizes=(16,), batch_size=8, buffer_size=64, learning_starts=100, total_timesteps=1100,
             progress=False)


def filled_buffer(n=32):
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    batch = Transition(obs=jax.random.normal(keys[0], (n, 3)), actions=jax.random.randint(keys[1], (n,), 0, 2),
                       rewards=jax.random.normal(keys[2], (n,)), terminated=jnp.zeros(n, bool),
                       truncated=jnp.zeros(n, bool), next_obs=jax.random.normal(keys[0], (n, 3)) + 1.0, extras={})
    return replay_add(replay_init(64, batch), batch)


def test_epsilon_follows_the_env_steps_of_the_replay_schedule():
    config = DQNConfig(**SMALL, train_frequency=4, num_envs=2, start_e=1.0, end_e=0.1, exploration_fraction=0.5)
    state = dqn.init(jax.random.PRNGKey(0), SPEC, config)
    # after `step` gradient steps the loops are at 100 + step * 4 * 2 env steps; the decay ends at 550
    for step, env_steps in ((0, 100), (25, 300), (100, 900)):
        expected = 1.0 - 0.9 * min(env_steps / 550, 1.0)
        np.testing.assert_allclose(float(dqn.epsilon(state.replace(step=jnp.int32(step)))), expected, rtol=1e-6)


def test_epsilon_greedy_takes_the_random_action_below_epsilon():
    q = jnp.array([[0.0, 1.0, 0.5], [2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(epsilon_greedy(q, None, 1.0), [1, 0])
    noise = jnp.array([[0.2, 0.0], [0.9, 0.99]])
    np.testing.assert_array_equal(epsilon_greedy(q, noise, 0.5), [0, 0])  # env 0 explores (action 0)
    np.testing.assert_array_equal(epsilon_greedy(q, noise, 0.95), [0, 2])


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_target_network_moves_every_target_network_frequency_env_steps(tau):
    # learning from env step 0, one gradient step per 10 env steps (train_frequency 10, 1 env): the
    # target moves at env step 30, the third gradient step
    config = DQNConfig(**{**SMALL, "learning_starts": 0}, train_frequency=10, target_network_frequency=30, tau=tau,
                       learning_rate=1e-2)
    state = dqn.init(jax.random.PRNGKey(0), SPEC, config)
    buffer, key = filled_buffer(), jax.random.PRNGKey(1)
    for _ in range(2):
        key, step_key = jax.random.split(key)
        before = state.target_params
        state, _ = dqn.update(state, buffer, step_key)
        jax.tree.map(np.testing.assert_array_equal, state.target_params, before)  # steps 1, 2: unchanged
    old_target = state.target_params
    state, metrics = dqn.update(state, buffer, key)  # step 3: target <- tau * online + (1 - tau) * target
    expected = jax.tree.map(lambda t, o: tau * o + (1 - tau) * t, old_target, state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), state.target_params, expected)
    assert int(state.step) == 3 and np.isfinite(float(metrics["loss"]))


def test_double_q_values_the_online_networks_choice_with_the_target_network():
    config = DQNConfig(**{**SMALL, "batch_size": 32}, double_q=True)
    state = dqn.init(jax.random.PRNGKey(0), SPEC, config)
    state = state.replace(target_params=jax.tree.map(lambda p: -p, state.params))  # disagreeing networks
    buffer = filled_buffer()
    batch = jax.tree.map(lambda x: x[:32], buffer.data)
    online = dqn.q_values(state, state.params, batch.next_obs)
    target = dqn.q_values(state, state.target_params, batch.next_obs)
    chosen = np.take_along_axis(np.asarray(target), np.asarray(online).argmax(-1)[:, None], -1)[:, 0]
    assert not np.allclose(chosen, np.asarray(target).max(-1))  # the two rules differ here
    # replay_sample draws rows randint(key, 32, 0, size) of the 32 stored: recompute the loss by hand.
    key = jax.random.PRNGKey(3)
    indices = jax.random.randint(key, (32,), 0, 32)
    q_taken = np.take_along_axis(np.asarray(dqn.q_values(state, state.params, batch.obs)),
                                 np.asarray(batch.actions)[:, None], -1)[:, 0]
    double_target = np.asarray(batch.rewards) + 0.99 * chosen
    single_target = np.asarray(batch.rewards) + 0.99 * np.asarray(target).max(-1)
    _, metrics = dqn._train_step(state, replay_sample(buffer, key, 32))
    idx = np.asarray(indices)
    np.testing.assert_allclose(float(metrics["loss"]), np.mean((q_taken[idx] - double_target[idx]) ** 2), rtol=1e-5)
    assert not np.isclose(float(metrics["loss"]), np.mean((q_taken[idx] - single_target[idx]) ** 2))


def test_box_actions_and_bad_values_are_named():
    with pytest.raises(ValueError, match="DQN needs a Discrete action space"):
        dqn.init(jax.random.PRNGKey(0), EnvSpec((3,), False, 2, (-1.0, -1.0), (1.0, 1.0)), DQNConfig(**SMALL))
    for overrides, message in (({"target_network_frequency": 0}, "target_network_frequency must be >= 1"),
                               ({"end_e": 2.0}, r"end_e must be in \[0, 1\]"),
                               ({"tau": 0.0}, r"tau must be in \(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(DQNConfig(**SMALL), **overrides).validate()


def start_value(env_id):
    config = jaxrl.config_for("dqn", env_id, total_timesteps=3000, learning_starts=200, train_frequency=1,
                              target_network_frequency=50, gamma=0.9, learning_rate=3e-2, hidden_sizes=(16,),
                              batch_size=32, buffer_size=2000, exploration_fraction=0.1, progress=False,
                              log_every=500)
    state = jaxrl.train("dqn", config).state
    return float(dqn.q_values(state, state.params, jnp.zeros((1, 1))).max())


def test_truncation_bootstraps_towards_the_infinite_horizon_value():
    # As for PQN: 10 when the 20-step cut bootstraps, ~6.4 if it were terminal (constant observation:
    # only the Q head's bias learns, hence the large step size).
    bootstrapped = start_value("jaxrl_test/ConstantReward-v0")
    as_terminal = start_value("jaxrl_test/ConstantRewardAsTermination-v0")
    assert abs(bootstrapped - 10.0) < 1.0, bootstrapped
    assert as_terminal < 8.0, as_terminal


def test_dqn_runs_in_the_device_loop_with_integer_actions_in_the_buffer():
    config = jaxrl.config_for("dqn", "phys2d/CartPole-v1", total_timesteps=2000, learning_starts=500, num_envs=2,
                              buffer_size=4000, log_every=500, hidden_sizes=(16,), progress=False)
    program = make_program("dqn", config)
    carry, metrics = jax.jit(program.run)(jax.jit(program.init)(jax.random.PRNGKey(0)), jnp.arange(4))
    actions = carry.buffer.steps.actions
    assert actions.dtype == jnp.int32 and actions.shape == (2000, 2)  # 2,000 time-ordered rows per env
    steps = np.asarray(carry.buffer.is_step)
    assert steps.sum() == 2000
    assert set(np.unique(np.asarray(actions)[steps]).tolist()) == {0, 1}
    assert np.isnan(metrics["loss"][0]) and np.all(np.isfinite(metrics["loss"][1:]))


def test_rmsprop_is_torchs_centered_rmsprop_with_its_epsilon_outside_the_root():
    # torch.optim.RMSprop(alpha=0.95, eps=0.01, centered=True), as MinAtar's DQN sets it, written out:
    # v <- 0.95 v + 0.05 g^2, m <- 0.95 m + 0.05 g, direction g / (sqrt(v - m^2) + 0.01)
    transform = dqn.OPTIMIZERS["rmsprop"]
    grads = np.array([[0.5, -2.0, 1e-3], [0.4, 3.0, -1e-3], [-0.1, 1.0, 2e-3]], np.float32)
    state = transform.init(jnp.zeros(3))
    v, m = np.zeros(3), np.zeros(3)
    for g in grads:
        direction, state = transform.update(jnp.asarray(g), state)
        v, m = 0.95 * v + 0.05 * g * g, 0.95 * m + 0.05 * g
        np.testing.assert_allclose(direction, g / (np.sqrt(v - m * m) + 0.01), rtol=1e-5)
    # the first step of a gradient far above 0.01 is about g / (sqrt(0.0475) |g|) = 4.59 sign(g)
    first, _ = transform.update(jnp.asarray([100.0]), transform.init(jnp.zeros(1)))
    np.testing.assert_allclose(first, [1 / np.sqrt(0.0475)], rtol=1e-3)


def one_transition_buffer(reward, n=16):
    """Every replay item the same transition, so every sample has the same TD error e = q - (r + g max q')."""
    item = Transition(obs=jnp.ones((n, 3)), actions=jnp.ones(n, jnp.int32), rewards=jnp.full(n, reward),
                      terminated=jnp.zeros(n, bool), truncated=jnp.zeros(n, bool), next_obs=jnp.full((n, 3), 2.0),
                      extras={})
    return item, replay_add(replay_init(n, item), item)


def test_huber_loss_is_linear_past_one_where_mse_is_quadratic():
    item, buffer = one_transition_buffer(50.0)
    losses = {}
    for loss in ("mse", "huber"):
        config = DQNConfig(**{**SMALL, "learning_starts": 0}, loss=loss)
        state = dqn.init(jax.random.PRNGKey(0), SPEC, config)
        error = (dqn.q_values(state, state.params, item.obs[:1])[0, 1]
                 - (50.0 + 0.99 * dqn.q_values(state, state.target_params, item.next_obs[:1]).max()))
        _, metrics = dqn.update(state, buffer, jax.random.PRNGKey(1))
        losses[loss] = float(metrics["loss"])
        assert abs(float(error)) > 40
    np.testing.assert_allclose(losses["mse"], float(error) ** 2, rtol=1e-5)
    np.testing.assert_allclose(losses["huber"], abs(float(error)) - 0.5, rtol=1e-5)


@pytest.mark.parametrize(("reward", "clipped"), [(50.0, 1.0), (-3.0, -1.0), (0.25, 0.25)])
def test_reward_clip_bounds_the_rewards_of_the_td_target(reward, clipped):
    item, buffer = one_transition_buffer(reward)
    losses = {}
    for reward_clip in (None, 1.0):
        state = dqn.init(jax.random.PRNGKey(0), SPEC, DQNConfig(**{**SMALL, "learning_starts": 0},
                                                                reward_clip=reward_clip))
        next_q = float(dqn.q_values(state, state.target_params, item.next_obs[:1]).max())
        q = float(dqn.q_values(state, state.params, item.obs[:1])[0, 1])
        losses[reward_clip] = float(dqn.update(state, buffer, jax.random.PRNGKey(1))[1]["loss"])
    np.testing.assert_allclose(losses[None], (q - (reward + 0.99 * next_q)) ** 2, rtol=1e-5)
    np.testing.assert_allclose(losses[1.0], (q - (clipped + 0.99 * next_q)) ** 2, rtol=1e-5)
    with pytest.raises(ValueError, match=r"^reward_clip must be > 0 \(or None: no clip\), got 0.0$"):
        DQNConfig(**SMALL, reward_clip=0.0).validate()


def test_clip_by_global_norm_scales_every_leaf_to_the_bound_and_reports_the_norm_before():
    grads = {"w": jnp.array([3.0, 0.0]), "b": jnp.array([[4.0]])}  # global norm 5
    clipped, norm = clip_by_global_norm(grads, jnp.float32(1.0))
    np.testing.assert_allclose(float(norm), 5.0, rtol=1e-6)
    np.testing.assert_allclose(clipped["w"], [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(clipped["b"], [[0.8]], rtol=1e-5)
    for bound in (jnp.float32(10.0), jnp.float32(jnp.inf)):  # under the bound, or no bound: unchanged
        jax.tree.map(np.testing.assert_array_equal, clip_by_global_norm(grads, bound)[0], grads)


def test_max_grad_norm_clips_the_gradient_the_optimizer_sees_and_none_clips_nothing():
    item, buffer = one_transition_buffer(50.0)  # a TD error over 40: a large gradient
    config = DQNConfig(**{**SMALL, "learning_starts": 0})
    state = dqn.init(jax.random.PRNGKey(0), SPEC, config)

    def loss(params):
        q = dqn.q_values(state, params, item.obs[:1])[0, 1]
        return jnp.square(q - (50.0 + 0.99 * dqn.q_values(state, state.target_params, item.next_obs[:1]).max()))

    expected_norm = float(optax.tree.norm(jax.grad(loss)(state.params)))
    moved = {}
    for bound in (None, 1e9, 1e-12):
        clipped_state = dqn.init(jax.random.PRNGKey(0), SPEC, dataclasses.replace(config, max_grad_norm=bound))
        new_state, metrics = dqn.update(clipped_state, buffer, jax.random.PRNGKey(1))
        np.testing.assert_allclose(float(metrics["grad_norm"]), expected_norm, rtol=1e-4)  # the norm before the clip
        moved[bound] = max(float(jnp.abs(new - old).max()) for new, old in
                           zip(jax.tree.leaves(new_state.params), jax.tree.leaves(state.params), strict=True))
    assert expected_norm > 10 and moved[None] == moved[1e9] > 1e-4  # Adam's first step: ~lr per weight
    assert moved[1e-12] < 1e-3 * moved[None]  # a gradient far under Adam's eps barely moves anything
    with pytest.raises(ValueError, match=r"^max_grad_norm must be > 0 \(or None: no clip\), got -1.0$"):
        DQNConfig(**SMALL, max_grad_norm=-1.0).validate()


def test_an_unknown_optimizer_or_loss_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^optimizer must be one of \['adam', 'rmsprop'\], got 'sgd'$"):
        DQNConfig(**SMALL, optimizer="sgd").validate()
    with pytest.raises(ValueError, match=r"^loss must be one of \['huber', 'mse'\], got 'l1'$"):
        DQNConfig(**SMALL, loss="l1").validate()


@pytest.mark.parametrize("game", ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"])
def test_every_minatar_game_gets_the_minatar_papers_dqn(game):
    config = jaxrl.config_for("dqn", f"gymnax/{game}-MinAtar")
    # Young & Tian (2019), examples/dqn.py: its constants, epsilon's 100k-step decay as a fraction of 5M
    expected = dict(total_timesteps=5_000_000, num_envs=1, buffer_size=100_000, batch_size=32, learning_starts=5_000,
                    train_frequency=1, learning_rate=2.5e-4, optimizer="rmsprop", loss="huber", gamma=0.99, tau=1.0,
                    target_network_frequency=1_000, double_q=False, start_e=1.0, end_e=0.1,
                    hidden_sizes=(128,), activation="relu", conv_channels=(16,), conv_padding="valid")
    assert {field: getattr(config, field) for field in expected} == expected
    assert config.exploration_fraction * config.total_timesteps == pytest.approx(100_000)
    assert jaxrl.config_for("dqn", "gymnax/Breakout-MinAtar", loss="mse").loss == "mse"  # a flag beats the preset
