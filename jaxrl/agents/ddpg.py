"""DDPG: TD3 with one critic, no target-policy smoothing and an actor step every step.

The functions are TD3's; only the defaults differ, so the algorithm is written once.
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.td3 import TD3Config, TD3State, act, act_from_noise, exploration_noise, init, train_step, update

__all__ = ["DDPGConfig", "TD3State", "act", "act_from_noise", "exploration_noise", "init", "train_step", "update"]


@dataclasses.dataclass(frozen=True)
class DDPGConfig(TD3Config):
    """DDPG defaults (one critic; actor and targets updated every step; no smoothing)."""

    num_critics: int = 1
    policy_frequency: int = 1
    policy_noise: float = 0.0
    noise_clip: float = 0.0
