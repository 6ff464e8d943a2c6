"""Algorithm name -> its agent, config class, presets and the metrics that must stay finite.

Adding an algorithm is one module that exports an :class:`~jaxrl.types.Agent` and a config
class, plus one :class:`Algorithm` entry: here for jaxrl's own, or from any other module
through :func:`register_algorithm`, and for the CLI through a ``jaxrl.algorithms`` entry point
of an installed package (:func:`load_plugins`). The registry sits with the agents and never
imports the loops (they import it).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from importlib import metadata
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
from jaxrl.config import OnPolicyConfig, ReplayConfig, with_preset
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
PLUGIN_GROUP = "jaxrl.algorithms"  # the entry-point group of installed packages that add algorithms
_SCHEDULE_CONFIGS = {ON_POLICY: OnPolicyConfig, OFF_POLICY: ReplayConfig}  # the fields each schedule's loops read
_plugins_loaded = False


def register_algorithm(algorithm: Algorithm) -> Algorithm:
    """Add ``algorithm`` to the registry: ``jaxrl.train``, ``make_train``, ``load``, ``evaluate``, both
    loops, checkpoints and ``jaxrl train <name>`` (flags from its config's fields) then run it.
    ``ValueError`` naming the problem: a name already taken or not a CLI word, a schedule other
    than :data:`ON_POLICY` / :data:`OFF_POLICY`, a config class that is not a dataclass subclass of
    the schedule's config (:class:`~jaxrl.config.OnPolicyConfig`: ``num_steps``, ...;
    :class:`~jaxrl.config.ReplayConfig`: ``buffer_size``, ...), or an ``agent_for`` that is not
    callable. Returns ``algorithm``."""
    name = algorithm.name
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"an algorithm name is lower-case letters, digits, '-' and '_' (a CLI word), got {name!r}")
    if name in ALGORITHMS:
        raise ValueError(f"algorithm {name!r} is already registered (by {ALGORITHMS[name].config_cls.__module__})")
    if algorithm.schedule not in _SCHEDULE_CONFIGS:
        raise ValueError(f"{name}: schedule must be ON_POLICY ({ON_POLICY!r}) or OFF_POLICY ({OFF_POLICY!r}), "
                         f"got {algorithm.schedule!r}")
    base = _SCHEDULE_CONFIGS[algorithm.schedule]
    config_cls = algorithm.config_cls
    if not (isinstance(config_cls, type) and issubclass(config_cls, base)):  # (so a frozen dataclass too)
        raise ValueError(f"{name}: config_cls must be a dataclass subclass of {base.__name__} for the "
                         f"{algorithm.schedule} loops, got {config_cls!r}")
    if not callable(algorithm.agent_for):
        raise ValueError(f"{name}: agent_for must be a function config -> Agent, got {algorithm.agent_for!r}")
    ALGORITHMS[name] = algorithm
    return algorithm


def load_plugins() -> None:
    """Load, once per process, every ``jaxrl.algorithms`` entry point of the installed packages: one
    that names a module registers its algorithms on import; one that names an :class:`Algorithm`
    is registered here. A plugin that fails to load is named in a warning and left out."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry_point in metadata.entry_points(group=PLUGIN_GROUP):
        try:
            loaded = entry_point.load()
            if isinstance(loaded, Algorithm) and ALGORITHMS.get(loaded.name) is not loaded:
                register_algorithm(loaded)
        except Exception as error:  # a broken plugin must not stop jaxrl's own algorithms
            warnings.warn(f"jaxrl: the {PLUGIN_GROUP} entry point {entry_point.name!r} ({entry_point.value}) "
                          f"failed to load: {type(error).__name__}: {error}", stacklevel=2)


def get_algorithm(name: str) -> Algorithm:
    """The entry of ``name`` (installed plugins are loaded first where it is not registered);
    ``ValueError`` listing the available ones otherwise."""
    if name not in ALGORITHMS:
        load_plugins()
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGORITHMS))} (others are added by "
                         f"jaxrl.register_algorithm or a {PLUGIN_GROUP!r} entry point)")
    return ALGORITHMS[name]
