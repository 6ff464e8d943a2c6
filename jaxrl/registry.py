"""Algorithm name -> (agent module, config class, host-loop trainer)."""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

from jaxrl.agents import ppo as ppo_agent


class Algorithm(NamedTuple):
    agent: ModuleType  # init / act / update
    config_cls: type  # the config dataclass
    on_policy: bool


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(ppo_agent, ppo_agent.PPOConfig, on_policy=True),
}


def get_algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


def config_fields(name: str) -> Any:
    import dataclasses

    return dataclasses.fields(get_algorithm(name).config_cls)
