"""Every preset is a valid config, and the velocity-hidden presets are the recurrent agent they document."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from jaxrl.agents.recurrent_ppo import RECURRENT_PPO
from jaxrl.agents.registry import ALGORITHMS


@pytest.mark.parametrize("algorithm, env", [(name, env) for name, entry in ALGORITHMS.items()
                                            for env in entry.presets])
def test_every_preset_validates(algorithm, env):
    config = ALGORITHMS[algorithm].config_for(env)
    assert config.validate() is config and config.env == env


@pytest.mark.parametrize("env", ["jaxrl/CartPole-NoVel-v1", "jaxrl/Pendulum-NoVel-v1"])
def test_the_velocity_hidden_presets_train_a_shared_recurrent_torso_on_scaled_rewards(env):
    # Without the reward scale a shared torso's gradient is almost all value loss (0/10 seeds learned
    # CartPole-NoVel); the agent is the recurrent one.
    config = ALGORITHMS["ppo"].config_for(env)
    assert config.policy == "gru" and config.shared_lstm and config.reward_scale == 0.01
    assert ALGORITHMS["ppo"].agent_for(config) is RECURRENT_PPO


def test_the_minatar_breakout_preset_is_the_config_run_beside_rejax():
    """The preset's numbers are the ones benchmarks/peer_rejax_minatar_ppo.py gives both libraries."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from peer_rejax_minatar_ppo import jaxrl_overrides

    preset = ALGORITHMS["ppo"].config_for("gymnax/Breakout-MinAtar")
    assert {name: getattr(preset, name) for name in jaxrl_overrides()} == jaxrl_overrides()
    assert preset.hidden_sizes == (256, 256) and preset.total_timesteps == 10_000_000


@pytest.mark.parametrize("game", ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"])
def test_the_minatar_pqn_preset_is_the_config_run_beside_purejaxql(game):
    """Every MinAtar id gets purejaxql's published PQN config, the numbers peer_purejaxql_pqn.py gives purejaxql."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from peer_purejaxql_pqn import CONFIG

    preset = ALGORITHMS["pqn"].config_for(f"gymnax/{game}-MinAtar")
    assert (preset.num_envs, preset.num_steps, preset.update_epochs, preset.num_minibatches) == (
        CONFIG["num_envs"], CONFIG["num_steps"], CONFIG["epochs"], CONFIG["minibatches"])
    assert (preset.learning_rate, preset.max_grad_norm, preset.gamma, preset.q_lambda) == (
        CONFIG["learning_rate"], CONFIG["max_grad_norm"], CONFIG["gamma"], CONFIG["q_lambda"])
    assert (preset.eps_start, preset.eps_finish, preset.exploration_fraction) == (
        CONFIG["eps_start"], CONFIG["eps_finish"], CONFIG["eps_decay"])
    assert preset.total_timesteps == CONFIG["total_timesteps"] and preset.anneal_lr and preset.optimizer == "radam"
    assert (preset.conv_channels, preset.hidden_sizes, preset.layer_norm, preset.conv_layer_norm) == (
        (16,), (128,), True, True)


def test_the_mujoco_preset_covers_gymnasiums_mujoco_ids_with_the_measured_settings():
    """Every MuJoCo env gymnasium registers (and nothing else) gets PPO's MuJoCo preset: the settings
    benchmarks/learning.py's ppo-*-norm-reward tasks measured, normalising observations and rewards."""
    import gymnasium as gym

    from jaxrl.envs.twins import MUJOCO_IDS

    registered = {env_id for env_id, spec in gym.registry.items()
                  if isinstance(spec.entry_point, str) and spec.entry_point.startswith("gymnasium.envs.mujoco.")
                  and spec.version in (4, 5)}
    assert set(MUJOCO_IDS) == registered
    for env_id in MUJOCO_IDS:
        config = ALGORITHMS["ppo"].config_for(env_id)
        assert (config.num_envs, config.num_steps, config.update_epochs, config.num_minibatches) == (8, 256, 10, 32)
        assert config.norm_obs and config.norm_reward and config.total_timesteps == 1_000_000
        # Ant-v5 alone leaves out the contact forces v5 observes by default (27 entries instead of 105)
        assert config.env_kwargs == (("include_cfrc_ext_in_observation=false",) if env_id == "Ant-v5" else ())
        assert config.gamma == (0.9999 if env_id.startswith("Swimmer") else 0.99)  # a long horizon for Swimmer


def test_every_atari_id_gets_the_ppo_atari_preset_and_its_torso_leaves_7x7_maps():
    from jaxrl.envs.atari import SCREEN_SIZE
    from jaxrl.nets.conv import conv_output_size

    for env_id in ("ALE/Breakout-v5", "ALE/Pong-v5"):
        config = ALGORITHMS["ppo"].config_for(env_id, total_timesteps=2048).validate()
        assert (config.num_envs, config.num_steps, config.clip_coef, config.reward_clip) == (8, 128, 0.1, 1.0)
        assert config.shared_trunk and config.hidden_sizes == (512,) and config.total_timesteps == 2048
        assert conv_output_size((SCREEN_SIZE,) * 2, 3, config.conv_padding, config.conv_kernels,
                                config.conv_strides) == (7, 7)



def test_every_atari_id_gets_cleanrls_atari_dqn_with_a_replay_that_fits():
    """CleanRL's dqn_atari.py, but a 100k replay (RL Zoo's): 0.7 GB with one 84x84 frame a step (CleanRL's 1M
    would take 7 GB; as transitions of two frame stacks, 56 GB)."""
    from jaxrl.core.sequence_replay import sequence_bytes
    from jaxrl.envs.atari import FRAME_STACK, SCREEN_SIZE
    from jaxrl.types import Transition

    for env_id in ("ALE/Breakout-v5", "ALE/Pong-v5"):
        config = ALGORITHMS["dqn"].config_for(env_id, total_timesteps=2048).validate()
        expected = dict(num_envs=1, buffer_size=100_000, batch_size=32, learning_starts=80_000, train_frequency=4,
                        learning_rate=1e-4, loss="mse", reward_clip=1.0, target_network_frequency=1_000,
                        end_e=0.01, exploration_fraction=0.1, hidden_sizes=(512,), conv_strides=(4, 2, 1))
        assert {field: getattr(config, field) for field in expected} == expected and config.total_timesteps == 2048
    frames = jax.ShapeDtypeStruct((1, SCREEN_SIZE, SCREEN_SIZE, FRAME_STACK), jnp.uint8)
    flag, number = jax.ShapeDtypeStruct((1,), bool), jax.ShapeDtypeStruct((1,), jnp.int32)
    step = Transition(obs=frames, actions=number, rewards=number, terminated=flag, truncated=flag, next_obs=frames,
                      extras={})
    assert sequence_bytes(config.buffer_size, step, FRAME_STACK) == 100_000 * (84 * 84 + 4 + 4 + 2 + 2) + 28_233
    assert sequence_bytes(1_000_000, step, FRAME_STACK) < 7.1e9


def test_every_atari_id_gets_purejaxqls_atari_pqn():
    config = ALGORITHMS["pqn"].config_for("ALE/Pong-v5").validate()
    expected = dict(num_envs=128, num_steps=32, update_epochs=2, num_minibatches=32, learning_rate=2.5e-4,
                    anneal_lr=False, optimizer="radam", q_lambda=0.65, eps_finish=0.001, reward_clip=1.0,
                    conv_channels=(32, 64, 64), conv_layer_norm=True, layer_norm=True, hidden_sizes=(512,))
    assert {field: getattr(config, field) for field in expected} == expected
    assert ALGORITHMS["sac"].preset_for("ALE/Pong-v5") is None
