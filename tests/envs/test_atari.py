"""Atari through the host loop: ALE ids registered on demand, preprocessed as the DQN/PPO papers do."""

import numpy as np
import pytest

from jaxrl.envs.host import EnvCreationError, HostVectorEnv, make_vector_env


def test_frames_are_84x84_grayscale_stacked_channels_last_uint8_pixels():
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    env = HostVectorEnv(make_vector_env("ALE/Breakout-v5", 2))
    try:
        assert env.spec.observation_shape == (84, 84, 4) and env.spec.discrete and env.spec.action_dim == 4
        assert env.spec.observation_dtype == "uint8"  # stored as bytes, scaled where the networks read them
        obs = env.reset(seed=0)
        assert obs.shape == (2, 84, 84, 4) and obs.dtype == np.uint8
        previous = obs
        for _ in range(20):
            obs = env.step(np.array([1, 3])).obs  # fire, then move: the screen changes
            # the newest frame is the last channel: each step shifts the stack by one
            np.testing.assert_array_equal(obs[..., :3], previous[..., 1:])
            previous = obs
        assert obs.max() > 25  # not a blank screen
    finally:
        env.close()


def test_a_missing_ale_py_is_one_line_naming_the_extra(hide_module):
    hide_module("ale_py")
    with pytest.raises(EnvCreationError, match=r"^'ALE/NotAGame-v5' needs ale-py: pip install 'jaxrl\[atari\]'$"):
        make_vector_env("ALE/NotAGame-v5", 1)


def test_an_unknown_game_is_one_line_naming_the_id():
    pytest.importorskip("ale_py")
    with pytest.raises(EnvCreationError, match=r"^unknown environment id 'ALE/Nope-v5': .*doesn't exist"):
        make_vector_env("ALE/Nope-v5", 1, "sync")


def test_the_envs_own_vector_entry_point_is_refused_for_atari_ids():
    pytest.importorskip("ale_py")
    with pytest.raises(EnvCreationError, match="would skip jaxrl's Atari preprocessing; use sync or async"):
        make_vector_env("ALE/Breakout-v5", 2, "vector_entry_point")


def test_the_device_loop_says_an_atari_game_runs_in_the_host_loop():
    """Not "unknown environment id" (gymnasium knows the ALE ids only once ale_py is imported)."""
    pytest.importorskip("ale_py")
    from jaxrl.envs.device import NotAJaxEnv, forget_built_envs, make_device_env

    forget_built_envs()
    with pytest.raises(NotAJaxEnv):
        make_device_env("ALE/Pong-v5")


ASYNC_PONG = """
from jaxrl.envs.host import HostVectorEnv, make_vector_env
env = HostVectorEnv(make_vector_env("ALE/Pong-v5", 2, "async"))
print(env.reset(seed=0).shape, env.spec.action_dim)
env.close()
"""


def test_async_workers_play_the_registered_game_without_printing_ale_banners():
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    import subprocess
    import sys

    import gymnasium as gym

    from jaxrl.envs.atari import quiet_atari_env, quiet_atari_spec, register_atari_ids

    register_atari_ids("ALE/Pong-v5")
    spec = quiet_atari_spec("ALE/Pong-v5")
    assert spec.entry_point is quiet_atari_env and spec.kwargs == gym.spec("ALE/Pong-v5").kwargs
    done = subprocess.run([sys.executable, "-c", ASYNC_PONG], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["(2,", "84,", "84,", "4)", "6"]
    assert "A.L.E" not in done.stderr and "Stella" not in done.stderr  # each worker printed both lines before


def test_the_replay_rebuilds_the_games_frame_stacks_from_one_stored_frame_a_step():
    """Breakout's stacks (reset padding, no-op starts, 200-frame truncations every ~45 steps) through the
    loops' replay, one 84x84 frame a row, wrapping around: every sampled observation and next
    observation is the one the env gave for that step."""
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    import jax

    from jaxrl.core.sequence_replay import sequence_add, sequence_init, sequence_sample
    from jaxrl.envs.atari import stacked_frames
    from jaxrl.types import Transition

    env = HostVectorEnv(make_vector_env("ALE/Breakout-v5", 2, env_kwargs={"max_num_frames_per_episode": 200}))
    try:
        frames = stacked_frames("ALE/Breakout-v5", env.spec.observation_shape)
        assert frames == 4
        obs, rng, truth, ends = env.reset(seed=0), np.random.default_rng(0), {}, 0
        add = jax.jit(sequence_add)
        buffer = None
        for t in range(120):
            step = env.step(rng.integers(0, 4, 2))
            ids = np.arange(2, dtype=np.int32) + 2 * t
            batch = Transition(obs=obs, actions=np.zeros(2, np.int32), rewards=step.rewards,
                               terminated=step.terminated, truncated=step.truncated, next_obs=step.next_obs,
                               extras={"id": ids})
            buffer = sequence_init(120, batch, 1, frames) if buffer is None else buffer
            buffer = add(buffer, batch)
            truth.update({int(i): (obs[e], step.next_obs[e]) for e, i in enumerate(ids)})
            ends += int((step.terminated | step.truncated).sum())
            obs = step.obs
        assert ends >= 3 and buffer.steps.obs.shape == (60, 2, 84, 84)  # 60 rows an env: the buffer wrapped
        got = jax.jit(sequence_sample, static_argnums=2)(buffer, jax.random.PRNGKey(0), 300)
        sampled = np.asarray(got.extras["id"])
        assert len(set(sampled.tolist())) > 50 and sampled.min() > 2 * 120 - 130  # only the newest steps remain
        for index, item_id in enumerate(sampled):
            np.testing.assert_array_equal(got.obs[index], truth[int(item_id)][0])
            np.testing.assert_array_equal(got.next_obs[index], truth[int(item_id)][1])
    finally:
        env.close()


def test_dqn_on_an_atari_game_keeps_one_frame_a_step_in_its_replay(tmp_path):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    import jaxrl
    from jaxrl.io.checkpoint import latest_checkpoint, read_checkpoint_with_extra

    config = jaxrl.config_for("dqn", "ALE/Breakout-v5", total_timesteps=200, learning_starts=200, buffer_size=1000,
                              log_every=100, progress=False)
    jaxrl.train("dqn", config, tmp_path)
    replay = read_checkpoint_with_extra(latest_checkpoint(tmp_path))[2]["replay"]
    assert replay["steps"]["obs"].shape == (1000, 1, 84, 84)  # 7 KB a step, not two 28 KB stacks
    assert replay["pending"].shape == (1, 84, 84, 4) and int(replay["is_step"].sum()) == 200
