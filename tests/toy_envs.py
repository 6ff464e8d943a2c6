"""Tiny gymnasium envs for probes and bad-input tests (registered under ``jaxrl_test/``)."""

from __future__ import annotations

import os
import signal
import time

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.envs.functional_jax_env import FunctionalJaxEnv
from gymnasium.envs.registration import register
from gymnasium.experimental.functional import FuncEnv


class ConstantReward(gym.Env):
    """One observation, reward 1 every step, never terminates; ``end_with`` decides how the
    time limit of ``horizon`` steps is reported ("truncated" is the honest one)."""

    def __init__(self, horizon: int = 20, end_with: str = "truncated"):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.horizon, self.end_with, self.t = horizon, end_with, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        ended = self.t >= self.horizon
        return np.zeros(1, np.float32), 1.0, ended and self.end_with == "terminated", \
            ended and self.end_with == "truncated", {}


class ConstantRewardContinuous(ConstantReward):
    """:class:`ConstantReward` with a Box action space (for off-policy agents)."""

    def __init__(self, horizon: int = 20, end_with: str = "truncated"):
        super().__init__(horizon, end_with)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)


class ContinuousTarget(gym.Env):
    """One-step episodes: observe ``x ~ U(-1, 1)``, reward ``-(a - x)^2`` for action ``a`` in ``[-2, 2]``."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.x = np.zeros(1, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, size=1).astype(np.float32)
        return self.x.copy(), {}

    def step(self, action):
        reward = -float(np.square(np.asarray(action) - self.x).sum())
        return self.x.copy(), reward, True, False, {}


class Counter(gym.Env):
    """Observation is the step count ``[t]``; reward ``t``; truncated after ``horizon`` steps."""

    def __init__(self, horizon: int = 3):
        self.observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.horizon, self.t = horizon, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), float(self.t), False, self.t >= self.horizon, {}


class DictCounter(Counter):
    """:class:`Counter` observed through a dict: ``{"count": [t], "phase": t % 3}`` (a Discrete)."""

    def __init__(self, horizon: int = 3):
        super().__init__(horizon)
        self.observation_space = gym.spaces.Dict({"count": self.observation_space, "phase": gym.spaces.Discrete(3)})

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return {"count": obs, "phase": 0}, info

    def step(self, action):
        obs, *rest = super().step(action)
        return {"count": obs, "phase": self.t % 3}, *rest


def counter_next_step_vector_env(num_envs: int = 1, **kwargs):
    """A vector entry point with NEXT_STEP autoreset, like most envs' own vector envs."""
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    return SyncVectorEnv([lambda: Counter(**kwargs)] * num_envs, autoreset_mode=AutoresetMode.NEXT_STEP)


class NaNReward(ConstantReward):
    """Rewards turn NaN after ``nan_after`` steps (a broken env)."""

    def __init__(self, nan_after: int = 100):
        super().__init__(horizon=10)
        self.nan_after, self.total = nan_after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.total += 1
        return obs, (float("nan") if self.total > self.nan_after else reward), terminated, truncated, info


class Failing(gym.Env):
    """Steps normally except in the env first reset with ``seed == fail_seed`` (env ``i`` of a vector
    env reset with ``seed=s`` gets ``s + i``): from step ``after`` on it raises, exits the worker
    process hard (``os._exit``), kills itself with SIGKILL or SIGTERM (a stop signal reaching the
    worker, as SLURM's reaches every process of a job), or hangs, as ``mode`` says."""

    def __init__(self, mode: str = "raise", after: int = 3, fail_seed: int = 2):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.mode, self.after, self.fail_seed = mode, after, fail_seed
        self.t, self.armed = 0, False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.armed = seed == self.fail_seed
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.armed and self.t >= self.after:
            if self.mode == "raise":
                raise RuntimeError(f"simulated env failure at step {self.t}")
            if self.mode == "exit":
                os._exit(3)
            if self.mode in ("sigkill", "sigterm"):
                os.kill(os.getpid(), signal.SIGKILL if self.mode == "sigkill" else signal.SIGTERM)
            if self.mode == "hang":
                time.sleep(3600)
        return np.zeros(1, np.float32), 1.0, False, self.t % 50 == 0, {}


class MemoryCue(gym.Env):
    """Observe a cue (+-1) at the first step only, then blanks, then a query flag; the action at the
    query step earns +1 if it names the cue ((cue > 0) == action), else -1. A memoryless policy
    cannot beat an average of 0."""

    def __init__(self, delay: int = 3):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.delay, self.t, self.cue = delay, 0, 1.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.cue = 0, float(self.np_random.choice([-1.0, 1.0]))
        return np.array([self.cue, 0.0], np.float32), {}

    def step(self, action):
        if self.t == self.delay:  # this was the query step
            reward = 1.0 if int(action) == int(self.cue > 0) else -1.0
            return np.zeros(2, np.float32), reward, True, False, {}
        self.t += 1
        return np.array([0.0, float(self.t == self.delay)], np.float32), 0.0, False, False, {}


class CopyTarget(gym.Env):
    """One-step episodes: observe a random target in the action space (MultiDiscrete or
    MultiBinary), reward the fraction of its components the action copies."""

    def __init__(self, action_space: gym.Space):
        self.action_space = action_space
        self.observation_space = action_space  # flattened one-hot by jaxrl
        self.target = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.action_space.seed(int(self.np_random.integers(2**31)))
        self.target = self.action_space.sample()
        return self.target.copy(), {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == self.target))
        return self.target.copy(), reward, True, False, {}


class BrightSide(gym.Env):
    """One-step episodes on pixels: a uint8 ``[6, 6, 1]`` image whose left or right half is lit (255,
    the other half 0); reward 1 for the action naming the lit side (0 left, 1 right), else 0."""

    observation_space = gym.spaces.Box(0, 255, (6, 6, 1), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.side = int(self.np_random.integers(2))
        image = np.zeros((6, 6, 1), np.uint8)
        image[:, 3 * self.side:3 * self.side + 3] = 255
        return image, {}

    def step(self, action):
        return np.zeros((6, 6, 1), np.uint8), float(int(action) == self.side), True, False, {}


class CopyTargetJax(FunctionalJaxEnv):
    """:class:`CopyTarget` on MultiDiscrete([3, 2, 4]) written in JAX, so that the device loop runs it:
    the target is the state, observed one-hot (9 floats); every episode is one step."""

    def __init__(self, render_mode=None):
        super().__init__(_CopyTargetFunctional(np.array([3, 2, 4])), metadata={"jax": True}, render_mode=render_mode)


class _CopyTargetFunctional(FuncEnv):
    def __init__(self, nvec: np.ndarray):
        super().__init__()
        self.nvec = nvec
        self.action_space = gym.spaces.MultiDiscrete(nvec)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (int(nvec.sum()),), np.float32)

    def initial(self, rng, params=None):
        return jax.random.randint(rng, (len(self.nvec),), 0, jnp.asarray(self.nvec))

    def transition(self, state, action, rng, params=None):
        return state

    def observation(self, state, rng, params=None):
        return jnp.concatenate([jax.nn.one_hot(state[i], int(n)) for i, n in enumerate(self.nvec)])

    def reward(self, state, action, next_state, rng, params=None):
        return jnp.mean((jnp.asarray(action) == state).astype(jnp.float32))

    def terminal(self, state, rng, params=None):
        return jnp.bool_(True)


class SpaceProbe(gym.Env):
    """An env with arbitrary spaces, for unsupported-space errors."""

    def __init__(self, observation_space=None, action_space=None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32) if observation_space is None \
            else observation_space
        self.action_space = gym.spaces.Discrete(2) if action_space is None else action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def moved_env(**kwargs):
    """An entry point that fails as gymnasium's mujoco-py ids (``Hopper-v2``) do."""
    raise ImportError("these environments have moved to another project (https://example.org)")


def register_toy_envs() -> None:
    if "jaxrl_test/ConstantReward-v0" in gym.registry:
        return
    register("jaxrl_test/ConstantReward-v0", entry_point=ConstantReward)
    register("jaxrl_test/ConstantRewardAsTermination-v0", entry_point=ConstantReward,
             kwargs={"end_with": "terminated"})
    register("jaxrl_test/ConstantRewardContinuous-v0", entry_point=ConstantRewardContinuous)
    register("jaxrl_test/ConstantRewardContinuousAsTermination-v0", entry_point=ConstantRewardContinuous,
             kwargs={"end_with": "terminated"})
    register("jaxrl_test/MemoryCue-v0", entry_point=MemoryCue)
    register("jaxrl_test/Counter-v0", entry_point=Counter, vector_entry_point=counter_next_step_vector_env)
    register("jaxrl_test/NaNReward-v0", entry_point=NaNReward)
    register("jaxrl_test/ContinuousTarget-v0", entry_point=ContinuousTarget)
    for mode in ("raise", "exit", "sigkill", "sigterm", "hang"):
        register(f"jaxrl_test/Failing-{mode}-v0", entry_point=Failing, kwargs={"mode": mode})
    register("jaxrl_test/DictCounter-v0", entry_point=DictCounter)
    register("jaxrl_test/Moved-v0", entry_point=moved_env)
    register("jaxrl_test/CopyMultiDiscrete-v0", entry_point=CopyTarget,
             kwargs={"action_space": gym.spaces.MultiDiscrete([3, 2, 4])})
    register("jaxrl_test/CopyMultiBinary-v0", entry_point=CopyTarget, kwargs={"action_space": gym.spaces.MultiBinary(4)})
    register("jaxrl_test/BrightSide-v0", entry_point=BrightSide)
    register("jaxrl_test/CopyMultiDiscreteJax-v0", entry_point=CopyTargetJax, max_episode_steps=10)
    register("jaxrl_test/TextObs-v0", entry_point=SpaceProbe,
             kwargs={"observation_space": gym.spaces.Dict({"a": gym.spaces.Text(4)})})
    register("jaxrl_test/GridMultiDiscreteAction-v0", entry_point=SpaceProbe,
             kwargs={"action_space": gym.spaces.MultiDiscrete([[2, 3], [4, 5]])})
    register("jaxrl_test/UnboundedBox-v0", entry_point=SpaceProbe,
             kwargs={"action_space": gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)})
