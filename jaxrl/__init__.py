"""jaxrl: PPO, PQN, DDPG, TD3 and SAC in JAX, on gymnasium envs (host loop) or JAX envs (device loop).

The public API (:mod:`jaxrl.api`): ``config_for``, ``train``, ``make_train``, ``run_device``,
``evaluate``, ``load``, ``agent_for``, ``final_returns``, ``seed_batched_lowering``; the agent
contract and data types (:mod:`jaxrl.types`); ``register_algorithm`` with ``Algorithm``,
``ON_POLICY`` and ``OFF_POLICY`` for an algorithm of your own (:mod:`jaxrl.agents.registry`).
"""

from jaxrl.core.gae import discounted_returns, gae
from jaxrl.types import Agent, EnvSpec, Rollout, Transition

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Algorithm",
    "EnvSpec",
    "OFF_POLICY",
    "ON_POLICY",
    "Rollout",
    "Transition",
    "__version__",
    "agent_for",
    "config_for",
    "discounted_returns",
    "evaluate",
    "final_returns",
    "gae",
    "load",
    "make_train",
    "register_algorithm",
    "run_device",
    "seed_batched_lowering",
    "train",
]

_API = ("agent_for", "config_for", "evaluate", "final_returns", "load", "make_train", "run_device",
        "seed_batched_lowering", "train")


_REGISTRY = ("Algorithm", "OFF_POLICY", "ON_POLICY", "register_algorithm")


def __getattr__(name: str):
    """The API functions, imported on first use so ``import jaxrl`` stays light."""
    if name in _API:
        from jaxrl import api

        return getattr(api, name)
    if name in _REGISTRY:
        from jaxrl.agents import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'jaxrl' has no attribute {name!r}")
