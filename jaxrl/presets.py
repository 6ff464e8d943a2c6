"""Per-env default overrides, in the spirit of RL Baselines3 Zoo.

``preset_config(PPOConfig, "Pendulum-v1", seed=3)`` gives the tuned config for the env
with any explicit overrides on top. The values that ran are always written to the
run dir's ``config.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")

PPO_PRESETS: dict[str, dict[str, Any]] = {
    # The PPOConfig defaults are tuned for CartPole-v1.
    "CartPole-v1": {},
    "Pendulum-v1": {
        "total_timesteps": 200_000,
        "num_envs": 8,
        "num_steps": 256,
        "update_epochs": 10,
        "num_minibatches": 32,
        "learning_rate": 1e-3,
        "gamma": 0.9,
        "gae_lambda": 0.95,
        "ent_coef": 0.0,
        "max_grad_norm": 0.5,
        "norm_obs": False,
        "log_std_init": -0.5,
    },
}

# After RL Baselines3 Zoo's Pendulum-v1 settings, with 1,000 random steps first.
_PENDULUM_OFF_POLICY = {"total_timesteps": 20_000, "learning_starts": 1_000, "policy_lr": 1e-3, "q_lr": 1e-3,
                        "buffer_size": 200_000}
DDPG_PRESETS: dict[str, dict[str, Any]] = {"Pendulum-v1": {**_PENDULUM_OFF_POLICY, "gamma": 0.98}}
TD3_PRESETS: dict[str, dict[str, Any]] = {"Pendulum-v1": {**_PENDULUM_OFF_POLICY, "gamma": 0.98}}
SAC_PRESETS: dict[str, dict[str, Any]] = {"Pendulum-v1": dict(_PENDULUM_OFF_POLICY)}

# Velocity-hidden tasks (settings in the spirit of sb3-contrib's RecurrentPPO zoo entries); the
# LSTM fields are ignored by policy="mlp", so both policies can be compared on one preset.
PPO_PRESETS["jaxrl/CartPole-NoVel-v1"] = {
    "total_timesteps": 1_000_000, "num_envs": 8, "num_steps": 32, "seq_len": 32, "num_minibatches": 1,
    "update_epochs": 10, "gamma": 0.98, "gae_lambda": 0.98, "learning_rate": 3e-4, "ent_coef": 0.01,
    # Separate actor and critic optimizers (each clipped on its own, so the critic's large value-loss
    # gradients do not shrink the actor's step) and full-rollout BPTT: with one optimizer, 1e-3 and
    # 8-step chunks, runs collapsed (see benchmarks/results and the recurrent-PPO issue notes).
    "critic_learning_rate": 3e-4, "lstm_hidden_size": 64, "hidden_sizes": (64,),
}
PPO_PRESETS["jaxrl/Pendulum-NoVel-v1"] = {
    **PPO_PRESETS["Pendulum-v1"], "total_timesteps": 300_000, "seq_len": 16, "num_minibatches": 8,
    "lstm_hidden_size": 64, "hidden_sizes": (64,),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "ppo": PPO_PRESETS, "ddpg": DDPG_PRESETS, "td3": TD3_PRESETS, "sac": SAC_PRESETS,
}


def preset_config(config_cls: type[ConfigT], env: str, algorithm: str = "ppo", **overrides: Any) -> ConfigT:
    """``config_cls`` with the preset for ``env`` (if any), then ``overrides``, applied."""
    values = {**PRESETS.get(algorithm, {}).get(env, {}), **overrides, "env": env}
    return dataclasses.replace(config_cls(), **values)
