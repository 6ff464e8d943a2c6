"""Partially observable variants of classic-control tasks, registered as gymnasium ids (and run
in the device loop on gymnax's ports, :data:`NO_VELOCITY_DEVICE_BASES`).

``jaxrl/CartPole-NoVel-v1`` keeps cart position and pole angle; ``jaxrl/Pendulum-NoVel-v1``
keeps cos and sin of the angle. Without velocities a feed-forward policy cannot act
well; a recurrent one can infer them from the history.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np


class KeepObservationIndices(gym.ObservationWrapper):
    """Keep only the given entries of a 1-D Box observation."""

    def __init__(self, env: gym.Env, indices: Sequence[int]):
        super().__init__(env)
        self.indices = np.asarray(indices)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(space.low[self.indices], space.high[self.indices], dtype=space.dtype)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.indices]


def _no_velocity(base_id: str, indices: Sequence[int]):
    def make(**kwargs) -> gym.Env:
        return KeepObservationIndices(gym.make(base_id, **kwargs), indices)

    return make


NO_VELOCITY_ENVS = {
    "jaxrl/CartPole-NoVel-v1": ("CartPole-v1", (0, 2)),
    "jaxrl/Pendulum-NoVel-v1": ("Pendulum-v1", (0, 1)),
}
# The same tasks in the device loop: gymnax's JAX ports of the base envs (extra gymnax), same
# dynamics, observations and time limits as gymnasium's, so a device-loop run evaluates on the host env.
NO_VELOCITY_DEVICE_BASES = {
    "jaxrl/CartPole-NoVel-v1": "gymnax/CartPole-v1",
    "jaxrl/Pendulum-NoVel-v1": "gymnax/Pendulum-v1",
}


def register_envs() -> None:
    """Register jaxrl's env ids with gymnasium (idempotent). The base env keeps its time limit."""
    for env_id, (base_id, indices) in NO_VELOCITY_ENVS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_no_velocity(base_id, indices), disable_env_checker=True)


register_envs()
