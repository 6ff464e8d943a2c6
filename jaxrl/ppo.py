"""Public PPO API: ``PPOConfig``, the pure agent functions, and ``train``.

``init`` / ``act`` / ``update`` here are the feed-forward agent's; the LSTM agent's
(which thread an explicit carry) are in :mod:`jaxrl.agents.recurrent_ppo`. ``train``
and ``evaluate`` handle both.

>>> from jaxrl import ppo
>>> result = ppo.train(ppo.PPOConfig(env="CartPole-v1", total_timesteps=100_000))
>>> result.history[-1]["episodic_return"]
"""

from __future__ import annotations

from pathlib import Path

from jaxrl.agents.ppo import (
    ActInfo,
    PPOConfig,
    PPOState,
    act,
    act_from_noise,
    action_noise,
    init,
    make_network,
    policy_and_value,
    update,
)
from jaxrl.loops.host import TrainResult
from jaxrl.presets import preset_config

__all__ = [
    "ActInfo",
    "PPOConfig",
    "PPOState",
    "TrainResult",
    "act",
    "act_from_noise",
    "action_noise",
    "config_for_env",
    "evaluate",
    "init",
    "make_network",
    "make_train",
    "policy_and_value",
    "train",
    "update",
]


def config_for_env(env: str, **overrides) -> PPOConfig:
    """The preset PPO config for ``env`` with ``overrides`` on top."""
    return preset_config(PPOConfig, env, "ppo", **overrides)


def train(config: PPOConfig, run_dir: str | Path | None = None) -> TrainResult:
    """Train PPO on ``config.env`` with the host loop (``policy="lstm"``: the recurrent agent,
    :mod:`jaxrl.agents.recurrent_ppo`); see :func:`jaxrl.loops.host.train_on_policy`."""
    from jaxrl.registry import train as train_algorithm

    return train_algorithm("ppo", config, run_dir)


def make_train(config: PPOConfig, mesh=None):
    """The device loop's pure ``train(key, hparams=None) -> DeviceTrainResult`` for ``config``
    (``config.env`` a JAX env id such as ``phys2d/CartPole-v1``); see :mod:`jaxrl.loops.device`.

    >>> train = ppo.make_train(ppo.PPOConfig(env="phys2d/CartPole-v1"))
    >>> results = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 16))
    """
    from jaxrl.loops.device import make_train as make_device_train

    return make_device_train("ppo", config, mesh)


def evaluate(state: PPOState, episodes: int = 20, deterministic: bool = True, seed: int = 10_000) -> dict:
    """Mean/std of raw returns over ``episodes`` fresh episodes of ``state.config.env``."""
    import jaxrl

    return jaxrl.evaluate("ppo", state, episodes, deterministic, seed)
