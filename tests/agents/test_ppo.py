import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents import ppo
from jaxrl.agents.ppo import learner_rewards
from jaxrl.agents.ppo_config import PPOConfig
from jaxrl.types import EnvSpec, Rollout

DISCRETE = EnvSpec(observation_shape=(3,), discrete=True, action_dim=2)
MULTI_DISCRETE = EnvSpec(observation_shape=(3,), discrete=True, action_dim=5, action_nvec=(3, 2))
CONTINUOUS = EnvSpec(observation_shape=(3,), discrete=False, action_dim=2, action_low=(-1.0, -1.0),
                     action_high=(1.0, 1.0))


def config(**overrides):
    return dataclasses.replace(PPOConfig(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=2,
                                             total_timesteps=3200), **overrides)


def make_rollout(state, key, T=8, B=4):
    """A random but self-consistent rollout acted with ``state``'s policy."""
    keys = jax.random.split(key, 4)
    obs = jax.random.normal(keys[0], (T, B, 3))
    noise = ppo.sample_noise(state, keys[1], (T, B))
    actions, extras, _ = jax.vmap(lambda o, n: ppo.act(state, o, n))(obs, noise)
    return Rollout(
        obs=obs, actions=actions, extras=extras,
        rewards=jax.random.normal(keys[2], (T, B)),
        terminated=jax.random.bernoulli(keys[3], 0.1, (T, B)), truncated=jnp.zeros((T, B), bool),
        next_obs=jnp.roll(obs, -1, axis=0), mask=jnp.ones((T, B)),
    )


@pytest.mark.parametrize("spec", [DISCRETE, MULTI_DISCRETE, CONTINUOUS], ids=["discrete", "multi", "continuous"])
def test_update_changes_params_and_reports_every_metric(spec):
    state = ppo.init(jax.random.PRNGKey(0), spec, config())
    new_state, metrics = ppo.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"):
        assert np.isfinite(metrics[name]), name
    assert int(new_state.update_step) == 1
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), state.params, new_state.params)
    assert all(v > 0 for v in jax.tree.leaves(moved))


def test_act_shapes_and_deterministic_mode():
    state = ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config())
    obs = jnp.ones((5, 3))
    actions, extras, carry = ppo.act(state, obs, ppo.sample_noise(state, jax.random.PRNGKey(1), (5,)))
    assert actions.shape == (5, 2) and extras["log_prob"].shape == (5,) and extras["value"].shape == (5,)
    assert carry is None
    mode, _, _ = ppo.act(state, obs, None)
    dist, _ = ppo.policy_and_value(state, state.params, obs)
    np.testing.assert_array_equal(mode, dist.mean)
    d_state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config())
    d_actions, _, _ = ppo.act(d_state, obs, ppo.sample_noise(d_state, jax.random.PRNGKey(1), (5,)))
    assert d_actions.shape == (5,) and d_actions.dtype == jnp.int32
    m_state = ppo.init(jax.random.PRNGKey(0), MULTI_DISCRETE, config())
    m_actions, m_extras, _ = ppo.act(m_state, obs, ppo.sample_noise(m_state, jax.random.PRNGKey(1), (5,)))
    assert m_actions.shape == (5, 2) and m_actions.dtype == jnp.int32 and m_extras["log_prob"].shape == (5,)
    assert (m_actions.max(0) < jnp.array([3, 2])).all()


@pytest.mark.parametrize("env_id", ["jaxrl_test/CopyMultiDiscrete-v0", "jaxrl_test/CopyMultiBinary-v0"])
def test_ppo_learns_one_choice_per_action_component(env_id):
    """Copy a random target of a MultiDiscrete([3, 2, 4]) or MultiBinary(4) space: a random
    policy scores 0.36 or 0.5, a learned one 1. (The recurrent policy's factored log-probs:
    test_recurrent_ppo's chunk-loss test.)"""
    import jaxrl

    run_config = jaxrl.config_for("ppo", env_id, total_timesteps=8192, num_envs=8, num_steps=64, hidden_sizes=(32,),
                                  progress=False, seed=5)
    state = jaxrl.train("ppo", run_config).state
    assert jaxrl.evaluate("ppo", state, episodes=50)["mean_return"] >= 0.85


def test_ppo_learns_one_choice_per_action_component_in_the_device_loop():
    """The same copy task on MultiDiscrete([3, 2, 4]) as a gymnasium functional JAX env, trained inside
    one jit: the device loop's action shape, sampling and evaluation for a factored action space."""
    import jaxrl

    run_config = jaxrl.config_for("ppo", "jaxrl_test/CopyMultiDiscreteJax-v0", total_timesteps=8192, num_envs=8,
                                  num_steps=64, hidden_sizes=(32,), progress=False, seed=5)
    state = jaxrl.run_device("ppo", run_config).seed_state(0)
    assert state.spec.action_nvec == (3, 2, 4)
    assert jaxrl.evaluate("ppo", state, episodes=50)["mean_return"] >= 0.85


def test_separate_critic_optimizer_uses_its_own_learning_rate():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(critic_learning_rate=1e-30, anneal_lr=False))
    new_state, _ = ppo.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    delta = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), state.params, new_state.params)
    assert max(jax.tree.leaves(delta["critic_trunk"])) < 1e-20
    assert max(jax.tree.leaves(delta["value_head"])) < 1e-20
    assert max(jax.tree.leaves(delta["actor_trunk"])) > 1e-4
    assert set(state.opt_state) == {"actor", "critic"}


def test_target_kl_stops_the_epochs_early():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(update_epochs=10, target_kl=1e-12,
                                                            learning_rate=1e-2))
    _, metrics = ppo.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert int(metrics["epochs_run"]) == 1
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(update_epochs=10))
    _, metrics = ppo.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert int(metrics["epochs_run"]) == 10


def test_without_a_target_kl_the_update_equals_one_whose_target_is_never_reached():
    """No target KL builds the epochs without their lax.cond; they must compute what the cond's
    running branch computes."""
    rollout_state = ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config(update_epochs=3))
    rollout = make_rollout(rollout_state, jax.random.PRNGKey(1))
    results = [ppo.update(ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config(update_epochs=3, target_kl=target)),
                          rollout, jax.random.PRNGKey(2)) for target in (None, 1e30)]
    (plain, plain_metrics), (guarded, guarded_metrics) = results
    for a, b in zip(jax.tree.leaves(plain.params), jax.tree.leaves(guarded.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for name in ("policy_loss", "value_loss", "approx_kl", "grad_norm"):
        np.testing.assert_allclose(plain_metrics[name], guarded_metrics[name], rtol=1e-5, err_msg=name)
    assert int(plain_metrics["epochs_run"]) == int(guarded_metrics["epochs_run"]) == 3


def test_linear_annealing_reaches_zero_on_the_last_update():
    cfg = config(total_timesteps=32 * 4)  # 4 updates
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, cfg)
    rates = []
    for i in range(4):
        state, metrics = ppo.update(state, make_rollout(state, jax.random.PRNGKey(i)), jax.random.PRNGKey(9))
        rates.append(float(metrics["learning_rate"]))
    np.testing.assert_allclose(rates, [1e-3, 0.75e-3, 0.5e-3, 0.25e-3], rtol=1e-5)


def test_reward_scale_and_floor():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(reward_scale=0.01, reward_min=-100.0))
    np.testing.assert_allclose(learner_rewards(state, jnp.array([-500.0, 20.0])), [-1.0, 0.2], rtol=1e-6)


def test_reward_clip_after_the_floor_and_before_the_scale():
    rewards = jnp.array([-5.0, -0.5, 0.0, 0.3, 4.0])
    clipped = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(reward_clip=1.0, reward_scale=2.0))
    np.testing.assert_allclose(learner_rewards(clipped, rewards), [-2.0, -1.0, 0.0, 0.6, 2.0], rtol=1e-6)
    floored = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(reward_clip=1.0, reward_min=-0.2))
    np.testing.assert_allclose(learner_rewards(floored, rewards), [-0.2, -0.2, 0.0, 0.3, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^reward_clip must be > 0 \(or None: no clip\), got 0.0$"):
        config(reward_clip=0.0).validate()


def test_unset_reward_floor_clip_and_target_kl_hold_values_that_turn_them_off():
    """A None field's hparam is the number at which its feature does nothing (hparam's when_none),
    so a sweep can mix set and unset values in one program."""
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(learning_rate=3e-4))
    hparams = {name: float(state.hparams[name]) for name in ("reward_min", "reward_clip", "target_kl")}
    assert hparams == {"reward_min": -np.inf, "reward_clip": np.inf, "target_kl": np.inf}
    assert float(state.hparams["critic_learning_rate"]) == pytest.approx(3e-4)  # falls back to learning_rate
    rewards = jnp.array([-1e6, -3.0, 0.0, 2.5, 1e6])
    np.testing.assert_array_equal(learner_rewards(state, rewards), rewards)


def test_a_conv_layout_needs_one_kernel_and_stride_per_conv():
    with pytest.raises(ValueError, match=r"^conv_kernels must be one positive int per conv_channels entry \(3\)"):
        config(conv_channels=(32, 64, 64), conv_kernels=(8, 4)).validate()
    with pytest.raises(ValueError, match=r"^conv_strides must be one positive int per conv_channels entry \(1\)"):
        config(conv_channels=(32,), conv_strides=(0,)).validate()
    with pytest.raises(ValueError, match=r"^conv_padding must be one of \['same', 'valid'\], got 'full'$"):
        config(conv_channels=(32,), conv_padding="full").validate()


def test_obs_normalisation_statistics_move_after_the_update():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(norm_obs=True))
    rollout = make_rollout(state, jax.random.PRNGKey(1))
    rollout = rollout.replace(obs=rollout.obs * 3.0 + 5.0)
    new_state, _ = ppo.update(state, rollout, jax.random.PRNGKey(2))
    np.testing.assert_allclose(new_state.obs_stats.mean, np.asarray(rollout.obs).reshape(-1, 3).mean(0), rtol=1e-3)


def test_masked_steps_do_not_affect_the_update():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config(num_minibatches=1))
    rollout = make_rollout(state, jax.random.PRNGKey(1))
    # As under NEXT_STEP autoreset: env 1's episode ends at step 2, so step 3 is an ignored reset step.
    rollout = rollout.replace(terminated=rollout.terminated.at[2, 1].set(True))
    mask = jnp.ones((8, 4)).at[3, 1].set(0.0)
    a, _ = ppo.update(state, rollout.replace(mask=mask), jax.random.PRNGKey(2))
    poisoned = rollout.replace(mask=mask, rewards=rollout.rewards.at[3, 1].set(1e6),
                               terminated=rollout.terminated.at[3, 1].set(True))
    b, _ = ppo.update(state, poisoned, jax.random.PRNGKey(2))
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=1e-6), a.params, b.params)


def test_update_vmaps_over_learning_rates():
    state = ppo.init(jax.random.PRNGKey(0), DISCRETE, config())
    rollout = make_rollout(state, jax.random.PRNGKey(1))
    rates = jnp.array([1e-4, 1e-2])
    states = jax.vmap(lambda lr: state.replace(hparams={**state.hparams, "learning_rate": lr}))(rates)
    new_states, metrics = jax.vmap(ppo.update, in_axes=(0, None, None))(states, rollout, jax.random.PRNGKey(2))
    step_small = jnp.abs(new_states.params["policy_head"]["kernel"][0] - state.params["policy_head"]["kernel"]).max()
    step_large = jnp.abs(new_states.params["policy_head"]["kernel"][1] - state.params["policy_head"]["kernel"]).max()
    assert float(step_large) > 10 * float(step_small)


def test_norm_reward_updates_as_on_rewards_normalised_beforehand_and_carries_the_returns():
    from jaxrl.core.normalization import init_reward_norm, normalize_rewards

    plain = ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config())
    normalising = ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config(norm_reward=True))
    assert plain.reward_norm is None
    rollout = make_rollout(plain, jax.random.PRNGKey(1))
    rollout = rollout.replace(rewards=rollout.rewards * 50.0 - 20.0)  # far from unit scale
    rewards, expected_norm = normalize_rewards(init_reward_norm(4), rollout.rewards,
                                               rollout.terminated | rollout.truncated, rollout.mask, jnp.float32(0.98))
    new_state, _ = ppo.update(normalising, rollout, jax.random.PRNGKey(2))
    reference, _ = ppo.update(plain, rollout.replace(rewards=rewards), jax.random.PRNGKey(2))
    for got, want in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(reference.params), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(jax.tree.leaves(new_state.reward_norm), jax.tree.leaves(expected_norm), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert float(jnp.abs(rewards).max()) < 10  # the learner saw rewards of unit scale


@pytest.mark.parametrize("overrides, message", [
    ({"num_minibatches": 3}, r"num_envs \* num_steps \(4 \* 8 = 32\) must be divisible by num_minibatches \(3\)"),
    ({"learning_rate": -1e-3}, "learning_rate must be a positive finite number"),
    ({"gamma": 1.5}, r"gamma must be in \(0, 1\]"),
    ({"gamma": 0.0}, r"gamma must be in \(0, 1\]"),
    ({"gae_lambda": -0.1}, r"gae_lambda must be in \[0, 1\]"),
    ({"num_envs": 0}, r"num_envs must be in \[1, 2\*\*31\)"),
    ({"clip_coef": 0.0}, "clip_coef must be > 0"),
    ({"norm_reward": True, "reward_min": -1.0}, "reward_min floors raw rewards and norm_reward rescales them"),
    ({"critic_learning_rate": 1e-3, "shared_trunk": True}, "critic_learning_rate needs separate"),
    ({"vectorization": "threads"}, "vectorization must be one of"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"hidden_sizes": ()}, "hidden_sizes must be a non-empty"),
    ({"critic_hidden_sizes": (8, 0)}, "critic_hidden_sizes must be a non-empty"),
    ({"critic_hidden_sizes": (8,), "shared_trunk": True}, "critic_hidden_sizes needs .* separate"),
    ({"critic_hidden_sizes": (8,), "policy": "gru"}, "critic_hidden_sizes needs policy='mlp'"),
    ({"total_timesteps": 10}, "total_timesteps .* must be at least one batch"),
])
def test_invalid_config_values_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        config(**overrides).validate()


def test_critic_hidden_sizes_shape_the_critic_alone_and_it_trains():
    """brax's PPO shape: a narrow deep policy and a wide value net (``critic_hidden_sizes``)."""
    state = ppo.init(jax.random.PRNGKey(0), CONTINUOUS, config(hidden_sizes=(4, 4), critic_hidden_sizes=(16, 16, 16)))
    actor_widths = [layer["kernel"].shape for layer in state.params["actor_trunk"].values()]
    critic_widths = [layer["kernel"].shape for layer in state.params["critic_trunk"].values()]
    assert actor_widths == [(3, 4), (4, 4)]
    assert critic_widths == [(3, 16), (16, 16), (16, 16)]
    assert state.params["value_head"]["kernel"].shape == (16, 1)
    assert state.params["policy_head"]["kernel"].shape == (4, 2)
    new_state, metrics = ppo.update(state, make_rollout(state, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert np.isfinite(float(metrics["value_loss"]))
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), new_state.params["critic_trunk"],
                         state.params["critic_trunk"])
    assert min(jax.tree.leaves(moved)) > 0
