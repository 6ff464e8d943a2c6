"""Pixel observations (a uint8 Box bounded by 0 and 255): kept as bytes from the env to the replay
buffer and the rollout, scaled to [0, 1] where the networks read them."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.agents.base import flat_observations
from jaxrl.core.normalization import init_running_stats, update_running_stats
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.envs.spec import observation_to_array, spec_from_spaces
from jaxrl.io.checkpoint import latest_checkpoint, read_checkpoint_with_extra
from jaxrl.loops.evaluate import LoadedRun

DISCRETE = gym.spaces.Discrete(2)


@pytest.mark.parametrize(("space", "dtype"), [
    (gym.spaces.Box(0, 255, (4, 4, 3), np.uint8), "uint8"),
    (gym.spaces.Box(0, 1, (4, 4, 3), np.uint8), "float32"),  # bytes, but not pixels: no scaling
    (gym.spaces.Box(0, 255, (4, 4, 3), np.float32), "float32"),
    (gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (2, 2), np.uint8)}), "float32"),  # flattened with the rest
])
def test_only_a_uint8_box_bounded_by_0_and_255_is_pixels(space, dtype):
    assert spec_from_spaces(space, DISCRETE).observation_dtype == dtype
    batch = gym.vector.utils.batch_space(space, 3)
    assert observation_to_array(space, batch.sample()).dtype == np.dtype(dtype)


def test_pixels_reach_the_networks_in_the_unit_interval_and_other_observations_unchanged():
    spec = spec_from_spaces(gym.spaces.Box(0, 255, (2, 2, 1), np.uint8), DISCRETE)
    pixels = jnp.array([[[[0], [255]], [[51], [102]]]], jnp.uint8)
    np.testing.assert_allclose(flat_observations(pixels, spec), [[0.0, 1.0, 0.2, 0.4]], rtol=1e-6)
    floats = jnp.array([[[[0.0], [255.0]], [[51.0], [102.0]]]])
    np.testing.assert_array_equal(flat_observations(floats, spec), [[0.0, 255.0, 51.0, 102.0]])


def test_running_statistics_of_pixels_equal_those_of_the_same_values_as_floats():
    """PPO's norm_obs feeds its raw rollout observations to the statistics: uint8 pixels included."""
    pixels = np.full((200, 3), 255, np.uint8)
    pixels[::2] = 7
    mask = np.ones(200, np.float32)
    of_pixels = update_running_stats(init_running_stats((3,)), jnp.asarray(pixels), jnp.asarray(mask))
    of_floats = update_running_stats(init_running_stats((3,)), jnp.asarray(pixels, jnp.float32), jnp.asarray(mask))
    np.testing.assert_allclose(of_pixels.mean, of_floats.mean, rtol=1e-6)
    np.testing.assert_allclose(of_pixels.mean, 131.0, rtol=1e-4)
    np.testing.assert_allclose(of_pixels.var, of_floats.var, rtol=1e-5)


def test_the_host_env_gives_pixels_as_bytes():
    env = HostVectorEnv(make_vector_env("jaxrl_test/BrightSide-v0", 2, "sync"))
    try:
        assert env.spec.observation_dtype == "uint8"
        obs = env.reset(seed=0)
        step = env.step(np.zeros(2, np.int64))
        assert obs.dtype == step.obs.dtype == step.next_obs.dtype == np.uint8 and obs.max() == 255
    finally:
        env.close()


def test_dqn_stores_pixels_as_bytes_in_its_replay_and_learns_from_them(tmp_path):
    config = jaxrl.config_for("dqn", "jaxrl_test/BrightSide-v0", total_timesteps=3000, learning_starts=500,
                              buffer_size=3000, train_frequency=1, batch_size=32, hidden_sizes=(16,),
                              exploration_fraction=0.3, target_network_frequency=100, progress=False, seed=3,
                              checkpoint_every=1)
    state = jaxrl.train("dqn", config, tmp_path).state
    replay = read_checkpoint_with_extra(latest_checkpoint(tmp_path))[2]["replay"]
    frames = replay["steps"]["obs"]  # [rows, envs, ...]: each observation once, next ones in the following rows
    assert frames.dtype == replay["pending"].dtype == np.uint8 and replay["steps"].get("next_obs") is None
    assert frames.shape == (3000, 1, 6, 6, 1) and frames.max() == 255
    assert jaxrl.evaluate("dqn", state, episodes=50)["mean_return"] == 1.0


def test_ppo_learns_from_pixels_and_its_policy_takes_the_envs_bytes():
    config = jaxrl.config_for("ppo", "jaxrl_test/BrightSide-v0", total_timesteps=4096, num_envs=8, num_steps=32,
                              hidden_sizes=(16,), progress=False, seed=3)
    state = jaxrl.train("ppo", config).state
    assert jaxrl.evaluate("ppo", state, episodes=50)["mean_return"] == 1.0
    left, right = np.zeros((2, 6, 6, 1), np.uint8), np.zeros((6, 6, 1), np.uint8)
    left[:, :, :3] = 255
    right[:, 3:] = 255
    policy = LoadedRun("ppo", config, state, None).policy
    np.testing.assert_array_equal(policy(np.concatenate([left[:1], right[None]])), [0, 1])
    assert jax.tree.leaves(state.obs_stats)[0].dtype == jnp.float32
    with pytest.raises(ValueError, match=r"^this policy reads pixels as the env gives them, uint8 in \[0, 255\]; "
                                         r"got float32 observations$"):
        policy(left.astype(np.float32) / 255)
