import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.agents import ddpg, offpolicy, sac, td3
from jaxrl.core.replay import replay_add, replay_init
from jaxrl.types import EnvSpec, Transition

# jitted, as the agents' updates call them (eagerly, every op of a gradient step compiles on its own)
td3_train_step, sac_train_step = jax.jit(td3.train_step), jax.jit(sac.train_step)

SPEC = EnvSpec(observation_shape=(3,), discrete=False, action_dim=2, action_low=(-2.0, 0.0), action_high=(2.0, 1.0))
SMALL = dict(hidden_sizes=(32, 32), batch_size=16, buffer_size=256, progress=False)


def random_batch(key, n=16):
    keys = jax.random.split(key, 4)
    return Transition(obs=jax.random.normal(keys[0], (n, 3)),
                      actions=jax.random.uniform(keys[1], (n, 2), minval=jnp.array([-2.0, 0.0]),
                                                 maxval=jnp.array([2.0, 1.0])),
                      rewards=jax.random.normal(keys[2], (n,)), next_obs=jax.random.normal(keys[3], (n, 3)),
                      terminated=jnp.zeros(n, bool), truncated=jnp.zeros(n, bool), extras={})


def changed(a, b):
    return max(float(jnp.abs(x - y).max()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("agent, config_cls", [(ddpg.DDPG, ddpg.DDPGConfig), (td3.TD3, td3.TD3Config),
                                               (sac.SAC, sac.SACConfig)])
def test_actions_stay_in_the_box_and_deterministic_is_noise_free(agent, config_cls):
    state = agent.init(jax.random.PRNGKey(0), SPEC, config_cls(**SMALL))
    obs = jax.random.normal(jax.random.PRNGKey(1), (500, 3)) * 10
    noise, _ = agent.explore(state, agent.init_exploration(state, 500),
                             agent.sample_noise(state, jax.random.PRNGKey(2), (500,)), jnp.ones(500, bool))
    actions, _, _ = agent.act(state, obs, noise)
    assert actions.shape == (500, 2)
    assert bool(jnp.all(actions >= jnp.array([-2.0, 0.0]))) and bool(jnp.all(actions <= jnp.array([2.0, 1.0])))
    a1, _, _ = agent.act(state, obs, None)
    a2, _, _ = agent.act(state, obs, None)
    np.testing.assert_array_equal(a1, a2)
    assert changed(a1, actions) > 0


def test_td3_exploration_is_the_agents_own_gaussian_or_ou_noise():
    standard = jax.random.normal(jax.random.PRNGKey(0), (4, 2))
    starts = jnp.array([True, False, False, True])
    gaussian = td3.init(jax.random.PRNGKey(0), SPEC, td3.TD3Config(exploration_noise=0.3, **SMALL))
    noise, state = td3.explore(gaussian, td3.init_exploration(gaussian, 4), standard, starts)
    assert state is None
    np.testing.assert_allclose(noise, 0.3 * standard)
    ou = td3.init(jax.random.PRNGKey(0), SPEC, td3.TD3Config(noise_type="ou", exploration_noise=0.3, ou_theta=0.5,
                                                             **SMALL))
    previous = jnp.full((4, 2), 2.0)
    noise, state = td3.explore(ou, previous, standard, starts)
    # envs 0 and 3 start an episode: their OU state restarts from 0 before the step
    expected = np.where(np.asarray(starts)[:, None], 0.0, 2.0 - 0.5 * 2.0) + 0.3 * np.asarray(standard)
    np.testing.assert_allclose(noise, expected, rtol=1e-6)
    np.testing.assert_array_equal(state, noise)


def test_td3_delays_actor_and_target_updates():
    state = td3.init(jax.random.PRNGKey(0), SPEC, td3.TD3Config(policy_frequency=2, **SMALL))
    one, metrics = td3_train_step(state, random_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert changed(state.critic_params, one.critic_params) > 0
    assert changed(state.actor_params, one.actor_params) == 0
    assert changed(state.target_critic_params, one.target_critic_params) == 0
    assert np.isnan(metrics["actor_loss"])
    two, metrics = td3_train_step(one, random_batch(jax.random.PRNGKey(3)), jax.random.PRNGKey(4))
    assert changed(one.actor_params, two.actor_params) > 0
    assert changed(one.target_critic_params, two.target_critic_params) > 0
    assert np.isfinite(metrics["actor_loss"])


def test_ddpg_is_one_critic_updated_every_step():
    state = ddpg.DDPG.init(jax.random.PRNGKey(0), SPEC, ddpg.DDPGConfig(**SMALL))
    assert jax.tree.leaves(state.critic_params)[0].shape[0] == 1
    new, _ = td3_train_step(state, random_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert changed(state.actor_params, new.actor_params) > 0


def test_target_soft_update_moves_by_tau():
    config = ddpg.DDPGConfig(tau=0.25, **SMALL)
    state = ddpg.DDPG.init(jax.random.PRNGKey(0), SPEC, config)
    new, _ = td3_train_step(state, random_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    expected = jax.tree.map(lambda t, o: 0.75 * t + 0.25 * o, state.target_critic_params, new.critic_params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new.target_critic_params,
                 expected)


def test_sac_alpha_is_tuned_only_with_autotune():
    batch = random_batch(jax.random.PRNGKey(1))
    tuned = sac.init(jax.random.PRNGKey(0), SPEC, sac.SACConfig(**SMALL))
    fixed = sac.init(jax.random.PRNGKey(0), SPEC, sac.SACConfig(autotune=False, **SMALL))
    tuned_new, metrics = sac_train_step(tuned, batch, jax.random.PRNGKey(2))
    fixed_new, _ = sac_train_step(fixed, batch, jax.random.PRNGKey(2))
    assert float(tuned_new.log_alpha) != float(tuned.log_alpha)
    assert float(fixed_new.log_alpha) == float(fixed.log_alpha)
    assert float(tuned.hparams["target_entropy"]) == -2.0  # -action_dim by default
    # The temperature falls when the policy's entropy is above the target and rises when below.
    direction = np.sign(float(tuned_new.log_alpha) - float(tuned.log_alpha))
    assert direction == np.sign(float(metrics["entropy"]) - (-2.0)) * -1


def test_update_runs_updates_per_step_gradient_steps_in_one_call():
    state = td3.init(jax.random.PRNGKey(0), SPEC, td3.TD3Config(updates_per_step=5, **SMALL))
    batch = random_batch(jax.random.PRNGKey(1), 40)
    buffer = replay_add(replay_init(64, batch), batch)
    new, metrics = td3.update(state, buffer, jax.random.PRNGKey(2))
    assert int(new.step) == 5
    assert np.isfinite(metrics["critic_loss"]) and np.isfinite(metrics["actor_loss"])


@pytest.mark.parametrize("module, config_cls", [(td3, td3.TD3Config), (sac, sac.SACConfig)])
def test_norm_obs_takes_statistics_from_replay_samples_and_the_networks_read_normalised_obs(module, config_cls):
    state = module.init(jax.random.PRNGKey(0), SPEC, config_cls(norm_obs=True, updates_per_step=2, **SMALL))
    batch = random_batch(jax.random.PRNGKey(1), 40)
    # every observation is offset by 5 and scaled by 3 per feature: the statistics must find that
    shifted = batch.replace(obs=5.0 + 3.0 * batch.obs, next_obs=5.0 + 3.0 * batch.next_obs)
    buffer = replay_add(replay_init(64, shifted), shifted)
    new, _ = module.update(state, buffer, jax.random.PRNGKey(2))
    sampled = 2 * SMALL["batch_size"]
    assert float(new.obs_stats.count) == pytest.approx(sampled, abs=1e-3)
    np.testing.assert_allclose(new.obs_stats.mean, 5.0, atol=1.5)  # a sample of 32 from 40 rows
    assert np.all(np.asarray(new.obs_stats.var) > 2.0) and np.all(np.asarray(new.obs_stats.var) < 30.0)
    # acting reads (obs - mean) / std: an observation at the mean acts as a zero observation would
    at_mean = new.obs_stats.mean[None]
    zero_stats = new.replace(obs_stats=new.obs_stats.replace(mean=jnp.zeros(3), var=jnp.ones(3)))
    np.testing.assert_allclose(module.act(new, at_mean, None)[0], module.act(zero_stats, jnp.zeros((1, 3)), None)[0],
                               rtol=1e-5, atol=1e-6)
    # without norm_obs the statistics stay untouched and the raw observation is read
    plain = module.init(jax.random.PRNGKey(0), SPEC, config_cls(updates_per_step=2, **SMALL))
    plain_new, _ = module.update(plain, buffer, jax.random.PRNGKey(2))
    assert float(plain_new.obs_stats.count) == pytest.approx(1e-4)


def test_discrete_actions_get_a_clear_error():
    with pytest.raises(ValueError, match=r"SAC needs a Box \(continuous\) action space.*use `jaxrl train ppo`"):
        sac.init(jax.random.PRNGKey(0), EnvSpec((3,), True, 2), sac.SACConfig(**SMALL))
    with pytest.raises(ValueError, match="DDPG needs a Box"):
        ddpg.DDPG.init(jax.random.PRNGKey(0), EnvSpec((3,), True, 2), ddpg.DDPGConfig(**SMALL))


@pytest.mark.parametrize("overrides, message", [
    ({"batch_size": 512, "buffer_size": 256}, r"batch_size \(512\) must not exceed buffer_size \(256\)"),
    ({"batch_size": 8, "buffer_size": 39, "num_envs": 8, "n_step": 3},
     r"^buffer_size \(39\) must hold 5 steps per env \(num_envs=8\) for n_step=3: at least 40$"),
    ({"tau": 0.0}, r"tau must be in \(0, 1\]"),
    ({"tau": 1.5}, r"tau must be in \(0, 1\]"),
    ({"policy_lr": -1.0}, "policy_lr must be a positive finite number"),
    ({"updates_per_step": 0}, "updates_per_step must be >= 1"),
    ({"learning_starts": -1}, "learning_starts must be >= 0"),
    ({"noise_type": "pink"}, "noise_type must be one of"),
    ({"gamma": 0.0}, r"gamma must be in \(0, 1\]"),
    ({"num_atoms": 0}, "num_atoms must be >= 1"),
    ({"num_atoms": 11, "v_min": 5.0, "v_max": 5.0}, "v_min must be below v_max"),
])
def test_invalid_off_policy_config_names_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(td3.TD3Config(**SMALL), **overrides).validate()


def off_policy_q(algorithm, env_id):
    # 4 envs x 4 gradient steps per vector step: the same ~2,800 updates in a quarter of the host steps
    config = jaxrl.config_for(algorithm, env_id, total_timesteps=3000, learning_starts=200, gamma=0.9, tau=0.05,
                              q_lr=3e-3, batch_size=64, hidden_sizes=(32, 32), progress=False, log_every=1000,
                              num_envs=4, updates_per_step=4)
    state = jaxrl.train(algorithm, config).state
    return float(td3._networks(config, state.spec)[1].apply(
        {"params": state.critic_params}, jnp.zeros((1, 1)), jnp.zeros((1, 1))).min())


def test_off_policy_truncation_bootstraps_towards_the_infinite_horizon_value():
    bootstrapped = off_policy_q("ddpg", "jaxrl_test/ConstantRewardContinuous-v0")
    as_terminal = off_policy_q("ddpg", "jaxrl_test/ConstantRewardContinuousAsTermination-v0")
    assert abs(bootstrapped - 10.0) < 1.5, bootstrapped
    assert as_terminal < 8.0, as_terminal


@pytest.mark.parametrize("algorithm", ["ddpg", "td3", "sac"])
def test_off_policy_agents_learn_a_tiny_continuous_task(algorithm):
    # One-step episodes: reward -(a - x)^2 for x ~ U(-1, 1); uniform random actions in [-2, 2] score -1.67.
    config = jaxrl.config_for(algorithm, "jaxrl_test/ContinuousTarget-v0", total_timesteps=2500, learning_starts=300,
                              batch_size=64, hidden_sizes=(32, 32), progress=False, log_every=500,
                              policy_lr=3e-3, q_lr=3e-3)
    state = jaxrl.train(algorithm, config).state
    assert jaxrl.evaluate(algorithm, state, episodes=50)["mean_return"] > -0.2


@pytest.mark.parametrize("algorithm", ["ddpg", "td3", "sac"])
def test_both_loops_pendulum_presets_are_the_fast_recipe(algorithm):
    config = jaxrl.config_for(algorithm, "phys2d/Pendulum-v0")
    # many envs and several gradient steps per vector step (in one scan in the device loop; see PENDULUM_FAST_PRESET)
    assert (config.num_envs, config.updates_per_step) == (8, 8)
    assert config.total_timesteps == 9_000 and config.n_step == (5 if algorithm == "td3" else 3)
    assert config.hidden_sizes == (64, 64) and config.batch_size == 128  # cheap gradient steps on a CPU
    host = jaxrl.config_for(algorithm, "Pendulum-v1")  # gymnasium's Pendulum in the host loop: the same numbers
    assert dataclasses.replace(host, env=config.env) == config


@pytest.mark.parametrize("algorithm", ["td3", "sac"])
def test_categorical_critics_read_their_mean_and_learn_a_tiny_continuous_task(algorithm):
    # returns in [-9, 0]: a support over [-10, 1] holds them
    config = jaxrl.config_for(algorithm, "jaxrl_test/ContinuousTarget-v0", total_timesteps=2500, learning_starts=300,
                              batch_size=64, hidden_sizes=(32, 32), progress=False, log_every=500,
                              policy_lr=3e-3, q_lr=3e-3, num_atoms=21, v_min=-10.0, v_max=1.0)
    state = jaxrl.train(algorithm, config).state
    critic = td3._networks(config, state.spec)[1] if algorithm == "td3" else sac._networks(config, state.spec)[1]
    logits = critic.apply({"params": state.critic_params}, jnp.zeros((5, 1)), jnp.zeros((5, 1)))
    assert logits.shape == (2, 5, 21)
    support = np.linspace(-10.0, 1.0, 21)
    np.testing.assert_allclose(offpolicy.critic_q(config, logits), np.asarray(jax.nn.softmax(logits)) @ support,
                               rtol=1e-5, atol=1e-4)
    assert jaxrl.evaluate(algorithm, state, episodes=50)["mean_return"] > -0.2
