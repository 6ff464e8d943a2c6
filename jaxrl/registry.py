"""Algorithm name -> (agent module, config class, host-loop trainer)."""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

from jaxrl.agents import ddpg as ddpg_agent
from jaxrl.agents import ppo as ppo_agent
from jaxrl.agents import recurrent_ppo as recurrent_ppo_agent
from jaxrl.agents import sac as sac_agent
from jaxrl.agents import td3 as td3_agent


class Algorithm(NamedTuple):
    agent: ModuleType  # init / act / update
    config_cls: type  # the config dataclass
    on_policy: bool


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(ppo_agent, ppo_agent.PPOConfig, on_policy=True),
    "ddpg": Algorithm(ddpg_agent, ddpg_agent.DDPGConfig, on_policy=False),
    "td3": Algorithm(td3_agent, td3_agent.TD3Config, on_policy=False),
    "sac": Algorithm(sac_agent, sac_agent.SACConfig, on_policy=False),
}


def get_algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


def agent_for(name: str, config: Any) -> ModuleType:
    """The agent module that runs ``config``: PPO with ``policy="lstm"`` is the recurrent agent."""
    if name == "ppo" and getattr(config, "policy", "mlp") == "lstm":
        return recurrent_ppo_agent
    return get_algorithm(name).agent


def train(name: str, config: Any, run_dir: Any = None, mesh: Any = None, resume: bool = False) -> Any:
    """Train with the host loop that fits the algorithm's schedule (``mesh``: PPO only; ``resume``:
    continue the run in ``run_dir``; see :func:`jaxrl.loops.host.train_on_policy`)."""
    from jaxrl.loops.host import train_off_policy, train_on_policy

    if get_algorithm(name).on_policy:
        return train_on_policy(agent_for(name, config), name, config, run_dir, mesh, resume)
    if mesh is not None and mesh.size > 1:
        raise ValueError(f"{name} in the host loop runs on one device; use --loop device to shard its envs")
    return train_off_policy(agent_for(name, config), name, config, run_dir, resume)
