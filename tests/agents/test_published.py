"""Published brax / Playground trainer configs as jaxrl presets: the mapping, checked by hand."""

import numpy as np
import pytest

import jaxrl
from jaxrl.agents.published import brax_ppo_fields, brax_sac_fields, published_config, published_preset


def test_brax_ant_runs_the_ppo_config_of_brax_notebook():
    config = jaxrl.config_for("ppo", "brax/ant")
    # 2048 trajectories x 32 minibatches x 5 steps per update = 4096 envs x 80 steps
    assert (config.num_envs, config.num_steps, config.num_minibatches, config.update_epochs) == (4096, 80, 32, 4)
    assert config.reward_scale == 10 and config.gamma == 0.97 and config.norm_obs and not config.anneal_lr
    assert config.hidden_sizes == (32,) * 4 and config.critic_hidden_sizes == (256,) * 5
    assert config.activation == "silu" and config.total_timesteps == 50_000_000
    assert config.max_grad_norm >= 1e6  # brax clips no gradient unless told
    assert abs(config.log_std_init - float(np.log(np.log(2.0) + 0.001))) < 1e-3  # brax's initial std
    assert not config.asymmetric_critic
    assert config.fresh_starts == "rollout"  # brax restarts from stored start states, no reset per step
    assert config.validate() is config


def test_a_brax_sac_config_maps_field_by_field():
    published = {"num_envs": 128, "batch_size": 512, "grad_updates_per_step": 8, "min_replay_size": 8192,
                 "max_replay_size": 1_048_576, "learning_rate": 1e-3, "discounting": 0.99,
                 "network_factory": {"q_network_layer_norm": True, "hidden_layer_sizes": (256, 256, 256)}}
    fields = brax_sac_fields(published)
    assert (fields["num_envs"], fields["batch_size"], fields["updates_per_step"]) == (128, 512, 8)
    assert (fields["learning_starts"], fields["buffer_size"], fields["gamma"]) == (8192, 1_048_576, 0.99)
    assert fields["policy_lr"] == fields["q_lr"] == fields["alpha_lr"] == 1e-3 and fields["tau"] == 0.005
    assert fields["critic_layer_norm"] and fields["hidden_sizes"] == (256, 256, 256)
    assert fields["fresh_starts"] == "rollout"
    assert jaxrl.config_for("sac", "phys2d/Pendulum-v0", **fields).validate()
    with pytest.raises(ValueError, match="reward_scaling=10: jaxrl's SAC has no reward scale"):
        brax_sac_fields({**published, "reward_scaling": 10})


def test_a_flag_still_overrides_the_published_preset():
    config = jaxrl.config_for("ppo", "brax/ant", num_envs=64, total_timesteps=10_000)
    assert (config.num_envs, config.total_timesteps, config.num_steps) == (64, 10_000, 80)


def test_what_brax_publishes_nothing_for_keeps_the_defaults_and_says_why_when_asked():
    assert published_preset("ppo", "brax/hopper") is None
    assert published_preset("sac", "brax/ant") is None  # PPO only
    assert published_preset("ppo", "CartPole-v1") is None
    assert jaxrl.config_for("ppo", "brax/hopper").num_envs == jaxrl.config_for("ppo", "CartPole-v1").num_envs
    with pytest.raises(ValueError, match="no published brax config for brax/hopper"):
        published_config("brax/hopper", "ppo")


def test_a_value_net_on_the_privileged_observation_is_the_asymmetric_critic():
    published = {"batch_size": 256, "num_minibatches": 32, "unroll_length": 20, "num_envs": 8192,
                 "num_updates_per_batch": 4, "learning_rate": 3e-4, "discounting": 0.97, "entropy_cost": 0.01,
                 "max_grad_norm": 1.0, "network_factory": {"policy_hidden_layer_sizes": (512, 256, 128),
                                                           "policy_obs_key": "state",
                                                           "value_hidden_layer_sizes": (512, 256, 128),
                                                           "value_obs_key": "privileged_state"}}
    fields = brax_ppo_fields(published)
    assert fields["asymmetric_critic"] and (fields["num_envs"], fields["num_steps"]) == (8192, 20)
    assert fields["max_grad_norm"] == 1.0 and fields["reward_scale"] == 1.0
    published["network_factory"]["policy_obs_key"] = "pixels/view_0"
    with pytest.raises(ValueError, match="'pixels/view_0' / 'privileged_state' have no jaxrl counterpart"):
        brax_ppo_fields(published)
    with pytest.raises(ValueError, match="163840 samples per update do not split over 3000 envs"):
        brax_ppo_fields({**published, "num_envs": 3000})


def test_playground_locomotion_ids_run_playground_published_ppo_config():
    pytest.importorskip("mujoco_playground")
    config = jaxrl.config_for("ppo", "playground/Go1JoystickFlatTerrain")
    # Playground's locomotion_params: 8192 envs, 256 x 32 trajectories of 20 steps, 200M steps
    assert (config.num_envs, config.num_steps, config.num_minibatches, config.update_epochs) == (8192, 20, 32, 4)
    assert config.hidden_sizes == config.critic_hidden_sizes == (512, 256, 128)
    assert config.asymmetric_critic and config.total_timesteps == 200_000_000 and config.max_grad_norm == 1.0
    assert config.validate() is config
    # the DM-Control ids keep jaxrl's own (CPU-checked) preset; an action repeat has no counterpart
    assert jaxrl.config_for("ppo", "playground/CartpoleBalance").num_envs == 64
    assert published_preset("ppo", "playground/AlohaSinglePegInsertion") is None
    with pytest.raises(ValueError, match="action_repeat=2 has no jaxrl counterpart"):
        published_config("playground/AlohaSinglePegInsertion", "ppo")
