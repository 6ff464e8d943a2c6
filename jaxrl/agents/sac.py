"""Soft Actor-Critic: tanh-squashed Gaussian policy, twin critics, automatic entropy tuning.

The agent is :data:`SAC` (the same function set as :mod:`jaxrl.agents.td3`); it explores by
sampling its policy, so its noise needs no state. The policy's log-prob is that of the
Box action (tanh and affine corrections included); the default target entropy is
``-action_dim``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import no_carry, no_exploration, noise_as_is, noise_or_zeros
from jaxrl.agents.offpolicy import (
    ADAM,
    PENDULUM_FAST_PRESET,
    ActorCriticState,
    OffPolicyConfig,
    actor_critic_networks,
    adam_step,
    box_bounds,
    critic_loss,
    critic_q,
    critic_target,
    init_actor_critic,
    initial_obs_stats,
    make_update,
    network_observations,
    own_copy,
    require_box,
    standard_normal_noise,
)
from jaxrl.config import hparam, hparams_from_config
from jaxrl.core.distributions import TanhGaussian
from jaxrl.core.nstep import nstep_returns
from jaxrl.core.td import from_box, soft_update
from jaxrl.envs.playground_suite import DM_CONTROL_IDS
from jaxrl.envs.twins import PENDULUM_IDS
from jaxrl.nets.continuous import GaussianActor, QEnsemble
from jaxrl.types import Agent, EnvSpec, Transition


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """SAC defaults after CleanRL's ``sac_continuous_action.py``."""

    num_critics: int = 2  # Q networks; targets use their minimum
    alpha: float = 0.2  # entropy coefficient (its start value when autotune)
    autotune: bool = True  # learn alpha towards target_entropy
    target_entropy: float | None = hparam(None)  # None: -action_dim
    alpha_lr: float | None = hparam(None)  # None: q_lr

    def validate(self):
        self.validate_offpolicy()
        if self.num_critics < 1:
            raise ValueError(f"num_critics must be >= 1, got {self.num_critics}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.alpha_lr is not None and not self.alpha_lr > 0:
            raise ValueError(f"alpha_lr must be > 0, got {self.alpha_lr}")
        return self


# 3-step returns, as DDPG's (2026-11-28, device loop, seeds 1-16, 200-215 and 300-315 vmapped by 16, 10
# deterministic episodes each): 48/48 evaluate >= -200 at 9k steps, where 5-step returns gave 14, 12 and 15 of 16.
SAC_PRESETS: dict[str, dict[str, Any]] = dict.fromkeys(PENDULUM_IDS, {**PENDULUM_FAST_PRESET, "n_step": 3})
# Playground's DM-Control envs in the device loop: the Pendulum device path's 16 envs and 8 gradient
# steps per vector step (CartpoleBalance: 3/3 seeds evaluate >= 939 at 50k env steps). Full float32
# products, as PPO's DM-Control preset (see there).
SAC_PRESETS.update(dict.fromkeys(DM_CONTROL_IDS, {"total_timesteps": 100_000, "learning_starts": 2_000,
                                                  "num_envs": 16, "updates_per_step": 8,
                                                  "matmul_precision": "highest"}))
# gymnasium's LunarLanderContinuous-v3 (pip install 'jaxrl[box2d]'), host loop: the Pendulum recipe (8 envs x 8
# gradient steps per vector step, 64x64, batches of 128, 3-step returns, lr 1e-3) for 200k steps after 5k
# random ones, where RL Baselines3 Zoo's SAC runs one env, 400x300 networks and 500k steps. Seeds 1-5, not tuned (20
# deterministic episodes): 263.6 / 254.8 / -6.8 / 252.8 / 250.7, 99-109 s a seed on a 2-core CPU; seed 3 hovers.
SAC_PRESETS["LunarLanderContinuous-v3"] = {**PENDULUM_FAST_PRESET, "n_step": 3, "total_timesteps": 200_000,
                                           "learning_starts": 5_000}


@struct.dataclass
class SACState(ActorCriticState):
    log_alpha: jax.Array  # scalar; its Adam state is opt_state["alpha"]


def _networks(config: SACConfig, spec: EnvSpec) -> tuple[GaussianActor, QEnsemble]:
    return actor_critic_networks(GaussianActor, config, spec)


def init(key: jax.Array, spec: EnvSpec, config: SACConfig) -> SACState:
    config.validate()
    require_box(spec, "SAC")
    actor_params, critic_params = init_actor_critic(key, spec, *_networks(config, spec))
    log_alpha = jnp.asarray(math.log(config.alpha), jnp.float32)
    hparams = hparams_from_config(config, {"alpha_lr": config.q_lr, "target_entropy": -float(spec.action_dim)})
    return SACState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=own_copy(critic_params),
        log_alpha=log_alpha,
        opt_state={"actor": ADAM.init(actor_params), "critic": ADAM.init(critic_params),
                   "alpha": ADAM.init(log_alpha)},
        hparams=hparams,
        step=jnp.zeros((), jnp.int32),
        obs_stats=initial_obs_stats(spec),
        config=config,
        spec=spec,
    )


def policy(state: SACState, actor_params: Any, features: jax.Array) -> TanhGaussian:
    """The action distribution (over Box actions) for observations as the networks read them,
    ``features [B, obs_dim]`` (:func:`network_observations`: flat, normalised where configured)."""
    actor, _ = _networks(state.config, state.spec)
    mean, log_std = actor.apply({"params": actor_params}, features)
    return TanhGaussian(mean, log_std, *box_bounds(state.spec))


def _act(state: SACState, obs: jax.Array, noise: jax.Array | None, carry: None = None,
         episode_start: jax.Array | None = None) -> tuple[jax.Array, dict, None]:
    noise = noise_or_zeros(noise, (obs.shape[0], state.spec.action_dim))
    actions, _ = policy(state, state.actor_params, network_observations(state, obs)).sample_from_noise(noise)
    return actions, {}, carry


act = jax.jit(_act)
act.__doc__ = """Box actions ``[B, action_dim]`` sampled with standard normal ``noise``, or ``tanh`` of the
mean when ``noise`` is None."""


def train_step(state: SACState, batch: Transition, key: jax.Array) -> tuple[SACState, dict[str, jax.Array]]:
    """Critic, actor and (if autotune) temperature steps, then a soft target update."""
    config, hp = state.config, state.hparams
    _, critic = _networks(config, state.spec)
    low, high = box_bounds(state.spec)
    next_key, actor_key = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha)

    next_actions, next_log_prob = policy(state, state.actor_params, batch.next_obs).sample(next_key)
    next_outputs = critic.apply({"params": state.target_critic_params}, batch.next_obs,
                                from_box(next_actions, low, high))
    returns, discount = nstep_returns(batch.rewards, batch.extras, hp["gamma"])
    target = critic_target(config, next_outputs, returns, discount, batch.terminated, -alpha * next_log_prob)
    unit_actions = from_box(batch.actions, low, high)

    def loss_of_critics(params):
        outputs = critic.apply({"params": params}, batch.obs, unit_actions)
        return critic_loss(config, outputs, target), critic_q(config, outputs)

    (q_loss, q_values), grads = jax.value_and_grad(loss_of_critics, has_aux=True)(state.critic_params)
    critic_params, critic_opt = adam_step(state.critic_params, grads, state.opt_state["critic"], hp["q_lr"])

    def actor_loss(params):
        actions, log_prob = policy(state, params, batch.obs).sample(actor_key)
        outputs = critic.apply({"params": critic_params}, batch.obs, from_box(actions, low, high))
        q = critic_q(config, outputs).min(axis=0)
        return jnp.mean(alpha * log_prob - q), log_prob

    (a_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(state.actor_params)
    actor_params, actor_opt = adam_step(state.actor_params, grads, state.opt_state["actor"], hp["policy_lr"])

    entropy_gap = jax.lax.stop_gradient(log_prob + hp["target_entropy"])
    alpha_loss, alpha_grad = jax.value_and_grad(lambda la: -jnp.mean(la * entropy_gap))(state.log_alpha)
    log_alpha, alpha_opt = state.log_alpha, state.opt_state["alpha"]
    if state.config.autotune:
        log_alpha, alpha_opt = adam_step(state.log_alpha, alpha_grad, alpha_opt, hp["alpha_lr"])

    new_state = state.replace(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=soft_update(state.target_critic_params, critic_params, hp["tau"]),
        log_alpha=log_alpha,
        opt_state={"actor": actor_opt, "critic": critic_opt, "alpha": alpha_opt},
        step=state.step + 1,
    )
    return new_state, {"critic_loss": q_loss, "actor_loss": a_loss, "q_values": jnp.mean(q_values),
                       "alpha": jnp.exp(log_alpha), "alpha_loss": alpha_loss, "entropy": -jnp.mean(log_prob)}


update = make_update(train_step)

SAC = Agent(init=init, act=act, update=update, sample_noise=standard_normal_noise, init_exploration=no_exploration,
            explore=noise_as_is, initial_carry=no_carry)
"""The SAC agent."""
