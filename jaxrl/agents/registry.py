"""Algorithm name -> its agent, config class, presets and the metrics that must stay finite.

Adding an algorithm is one module under ``jaxrl/agents/`` that exports an
:class:`~jaxrl.types.Agent` and a config class, plus one entry here. The registry sits with
the agents and never imports the loops (they import it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from jaxrl.agents.ddpg import DDPG, DDPG_PRESETS, DDPGConfig
from jaxrl.agents.dqn import DQN, DQN_PREFIX_PRESETS, DQN_PRESETS, DQNConfig
from jaxrl.agents.ppo import PPO
from jaxrl.agents.ppo_config import PPO_PREFIX_PRESETS, PPO_PRESETS, RECURRENT_POLICIES, PPOConfig
from jaxrl.agents.pqn import PQN, PQN_PREFIX_PRESETS, PQN_PRESETS, PQNConfig
from jaxrl.agents.published import published_preset
from jaxrl.agents.recurrent_ppo import RECURRENT_PPO
from jaxrl.agents.sac import SAC, SAC_PRESETS, SACConfig
from jaxrl.agents.td3 import TD3, TD3_PRESETS, TD3Config
from jaxrl.config import with_preset
from jaxrl.types import Agent

ON_POLICY, OFF_POLICY = "on_policy", "off_policy"


class Algorithm(NamedTuple):
    """One registry entry."""

    name: str
    config_cls: type  # the config dataclass (extends jaxrl.config.RunConfig)
    agent_for: Callable[[Any], Agent]  # the agent that runs a config (PPO: feed-forward or recurrent)
    schedule: str  # ON_POLICY (rollouts, then update) or OFF_POLICY (replay buffer, update per env step)
    presets: dict[str, dict[str, Any]]  # env id -> field values applied before the user's overrides
    finite_metrics: tuple[str, ...]  # update metrics that stop the run (nothing saved) when NaN/inf
    nan_allowed: tuple[str, ...] = ()  # of those, the ones that are NaN by design where not computed
    deterministic_eval: bool = True  # `jaxrl eval` without --deterministic/--no-deterministic acts greedily
    prefix_presets: dict[str, dict[str, Any]] = {}  # id prefix ("ALE/") -> the preset of its ids without their own

    def config_for(self, env: str, **overrides: Any) -> Any:
        """The preset config for ``env`` with ``overrides`` on top (not yet validated). An env without
        a preset of jaxrl's own takes the one its suite's trainer publishes, if any
        (:func:`~jaxrl.agents.published.published_preset`)."""
        preset = self.preset_for(env)
        return with_preset(self.config_cls, {} if preset is None else {env: preset}, env, **overrides)

    def preset_for(self, env: str) -> dict[str, Any] | None:
        """The fields ``env``'s preset sets (jaxrl's own for the id, else for its prefix, else the published
        one); None without one."""
        if env in self.presets:
            return self.presets[env]
        by_prefix = [preset for prefix, preset in self.prefix_presets.items() if env.startswith(prefix)]
        return by_prefix[0] if by_prefix else published_preset(self.name, env)


def _ppo_agent(config: PPOConfig) -> Agent:
    return RECURRENT_PPO if config.policy in RECURRENT_POLICIES else PPO


# TD3/DDPG report a NaN actor_loss for a stretch without a (delayed) actor step.
_TD3_FINITE = ("critic_loss", "actor_loss", "param_norm")
_ALGORITHMS = (
    Algorithm("ppo", PPOConfig, _ppo_agent, ON_POLICY, PPO_PRESETS,
              ("policy_loss", "value_loss", "grad_norm", "param_norm"), deterministic_eval=False,
              prefix_presets=PPO_PREFIX_PRESETS),
    Algorithm("pqn", PQNConfig, lambda config: PQN, ON_POLICY, PQN_PRESETS, ("loss", "param_norm"),
              prefix_presets=PQN_PREFIX_PRESETS),
    Algorithm("dqn", DQNConfig, lambda config: DQN, OFF_POLICY, DQN_PRESETS, ("loss", "param_norm"),
              prefix_presets=DQN_PREFIX_PRESETS),
    Algorithm("ddpg", DDPGConfig, lambda config: DDPG, OFF_POLICY, DDPG_PRESETS, _TD3_FINITE, ("actor_loss",)),
    Algorithm("td3", TD3Config, lambda config: TD3, OFF_POLICY, TD3_PRESETS, _TD3_FINITE, ("actor_loss",)),
    Algorithm("sac", SACConfig, lambda config: SAC, OFF_POLICY, SAC_PRESETS,
              ("critic_loss", "actor_loss", "param_norm")),
)
ALGORITHMS: dict[str, Algorithm] = {algorithm.name: algorithm for algorithm in _ALGORITHMS}


def get_algorithm(name: str) -> Algorithm:
    """The entry of ``name``; ``ValueError`` listing the available ones otherwise."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]
