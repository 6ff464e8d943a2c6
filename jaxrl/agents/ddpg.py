"""DDPG: TD3 with one critic, no target-policy smoothing and an actor step every step.

The agent is TD3's (:data:`jaxrl.agents.td3.TD3`); only the config's defaults differ, so the
algorithm is written once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxrl.agents.offpolicy import PENDULUM_FAST_PRESET
from jaxrl.agents.td3 import TD3, TD3Config
from jaxrl.config import hparam
from jaxrl.envs.twins import PENDULUM_IDS

DDPG = TD3
__all__ = ["DDPG", "DDPGConfig", "DDPG_PRESETS"]


@dataclasses.dataclass(frozen=True)
class DDPGConfig(TD3Config):
    """DDPG defaults (one critic; actor and targets updated every step; no smoothing)."""

    num_critics: int = 1
    policy_frequency: int = 1
    policy_noise: float = hparam(0.0)
    noise_clip: float = hparam(0.0)


DDPG_PRESETS: dict[str, dict[str, Any]] = dict.fromkeys(  # n=5: 7/10 in the device loop
    PENDULUM_IDS, {**PENDULUM_FAST_PRESET, "gamma": 0.98, "n_step": 3})
