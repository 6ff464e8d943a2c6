"""vectorization="envpool": built through envpool.make with the config's seed; its NEXT_STEP autoreset
is handled like any env's own vector env. A stand-in module plays envpool (the real one is an
optional extra with large assets)."""

import sys
import types
import warnings

import gymnasium as gym
import numpy as np
import pytest
from toy_envs import counter_next_step_vector_env

from jaxrl.envs.host import EnvCreationError, HostVectorEnv, host_env_for, make_vector_env


class GymnasiumEnvPoolMixin:
    """Named like envpool's mixin: its envs take the seed in make() and ignore reset(seed=...)."""


def _fake_envpool(calls):
    def make(env_id, env_type, num_envs, seed, **kwargs):
        calls.append({"env_id": env_id, "env_type": env_type, "num_envs": num_envs, "seed": seed})
        if env_id != "Counter-v0":
            raise ValueError(f"{env_id} is not registered in EnvPool")
        env = counter_next_step_vector_env(num_envs)
        original_reset = env.reset

        def reset(seed=None, options=None):
            calls.append({"reset_seed": seed})
            return original_reset(seed=seed, options=options)

        env.reset = reset
        gym.logger.warn("Box low's precision lowered by casting to float32, current low.dtype=float64")  # as envpool's
        env.__class__ = type("CounterEnvPool", (type(env), GymnasiumEnvPoolMixin), {})
        return env

    return types.SimpleNamespace(make=make)


def test_envpool_mode_seeds_at_creation_and_masks_the_reset_step(monkeypatch):
    from jaxrl.agents.ppo import PPOConfig

    calls = []
    monkeypatch.setitem(sys.modules, "envpool", _fake_envpool(calls))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # envpool's float64-bounds warning at make() is not shown to users
        env = host_env_for(PPOConfig(env="Counter-v0", num_envs=2, vectorization="envpool", seed=7))
    try:
        assert calls[0] == {"env_id": "Counter-v0", "env_type": "gymnasium", "num_envs": 2, "seed": 7}
        env.reset(seed=123)
        assert calls[-1] == {"reset_seed": None}  # the seed was given to make(); reset(seed=...) is not passed on
        valid = [env.step(np.zeros(2, np.int64)).valid.copy() for _ in range(5)]
    finally:
        env.close()
    # Counter truncates after 3 steps; the 4th step is the NEXT_STEP reset step: not a transition.
    np.testing.assert_array_equal(np.stack(valid)[:, 0], [True, True, True, False, True])


def test_envpool_errors_name_the_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "envpool", _fake_envpool([]))
    with pytest.raises(EnvCreationError, match="envpool could not create 'Nope-v0'"):
        make_vector_env("Nope-v0", 2, "envpool")
    monkeypatch.setitem(sys.modules, "envpool", None)  # as if not installed
    with pytest.raises(EnvCreationError, match=r"needs the envpool package: pip install 'jaxrl\[envpool\]'"):
        make_vector_env("CartPole-v1", 2, "envpool")


class FakeAtariPool(gym.vector.VectorEnv, GymnasiumEnvPoolMixin):
    """envpool's Atari layout: stacked frames channels first ``[B, 4, 84, 84]``; frame ``k`` of the stack is
    filled with ``10 * k + step count``, so the channel order can be read back."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs, resets):
        self.num_envs, self.resets, self.count = num_envs, resets, 0
        self.single_observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.single_action_space = gym.spaces.Discrete(4)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)

    def _frames(self):
        frames = np.zeros((self.num_envs, 4, 84, 84), np.uint8)
        frames += (10 * np.arange(4, dtype=np.uint8) + self.count)[None, :, None, None]
        return frames

    def reset(self, seed=None, options=None):
        self.resets.append(seed)
        return self._frames(), {}

    def step(self, actions):
        self.count += 1
        flags = np.zeros(self.num_envs, bool)
        return self._frames(), np.ones(self.num_envs, np.float32), flags, flags, {}


def test_an_ale_id_plays_envpools_game_under_jaxrls_atari_protocol_channels_last(monkeypatch):
    calls, resets = [], []

    def make(task, env_type, num_envs, seed, **kwargs):
        calls.append({"task": task, "seed": seed, **kwargs})
        assert task == "Breakout-v5", f"{task} is not supported, `envpool.list_all_envs()` may help."
        return FakeAtariPool(num_envs, resets)

    monkeypatch.setitem(sys.modules, "envpool", types.SimpleNamespace(make=make))
    env = HostVectorEnv(make_vector_env("ALE/Breakout-v5", 2, "envpool", env_kwargs={"noop_max": 5}, seed=5))
    try:
        (call,) = calls
        # envpool's defaults are no sticky actions and FIRE after each reset; jaxrl's protocol is v5's
        assert call["task"] == "Breakout-v5" and call["seed"] == 5
        assert call["repeat_action_probability"] == 0.25 and not call["use_fire_reset"] and not call["episodic_life"]
        assert (call["stack_num"], call["frame_skip"], call["max_episode_steps"]) == (4, 4, 27_000)
        assert call["noop_max"] == 5  # the user's env_kwargs win
        assert env.spec.observation_shape == (84, 84, 4) and env.spec.observation_dtype == "uint8"
        obs = env.reset(seed=5)
        assert resets == [None]  # seeded at creation, seen through the channel-order wrapper
        np.testing.assert_array_equal(obs[0, 0, 0], [0, 10, 20, 30])  # frame k is channel k
        np.testing.assert_array_equal(env.step(np.zeros(2, np.int64)).obs[1, 83, 83], [1, 11, 21, 31])
    finally:
        env.close()
    with pytest.raises(EnvCreationError, match=r"^envpool could not create 'Pong-v5': Pong-v5 is not supported"):
        make_vector_env("ALE/Pong-v5", 1, "envpool")
    # envpool 1.2.5 dies with a segmentation fault at the first reset; refused before it is built
    with pytest.raises(EnvCreationError, match=r"^envpool's Atari envs crash with noop_max=0; give noop_max >= 1"):
        make_vector_env("ALE/Breakout-v5", 1, "envpool", env_kwargs={"noop_max": 0})
    assert len(calls) == 2
