"""TD3 (twin critics, target-policy smoothing, delayed actor updates); DDPG is the
special case of one critic, no smoothing and no delay (see :mod:`jaxrl.agents.ddpg`).

The agent is :data:`TD3`; beside the contract's functions, ``train_step(state, batch:
Transition, key)`` is one gradient step and ``update(state, buffer, key)`` runs
``updates_per_step`` of them. The actor works in the unit box; actions reach the env as
``to_box(unit)``, and the critic sees the stored env actions mapped back to the unit box.
Exploration is the agent's own: Gaussian noise, or per-env Ornstein-Uhlenbeck noise whose
state (``init_exploration``) the loops carry and ``explore`` advances.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import no_carry, noise_or_zeros
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
from jaxrl.config import check_choice, hparam, hparams_from_config
from jaxrl.core.flat_draws import flat_draw
from jaxrl.core.noise import ou_init, ou_reset, ou_step
from jaxrl.core.nstep import nstep_returns
from jaxrl.core.td import from_box, soft_update, to_box
from jaxrl.envs.twins import PENDULUM_IDS
from jaxrl.nets.continuous import DeterministicActor, QEnsemble
from jaxrl.types import Agent, EnvSpec, Transition

NOISE_TYPES = ("gaussian", "ou")


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """TD3; every exploration and smoothing scale is in units of half the action range."""

    num_critics: int = 2  # Q networks; targets use their minimum
    policy_frequency: int = 2  # critic steps per actor (and target) update
    policy_noise: float = hparam(0.2)  # std of the target-policy smoothing noise (0: none)
    noise_clip: float = hparam(0.5)  # smoothing noise is clipped to [-noise_clip, noise_clip]
    exploration_noise: float = hparam(0.1)  # std (gaussian) or sigma (ou) of the acting noise
    noise_type: str = "gaussian"  # "gaussian" or "ou" (Ornstein-Uhlenbeck, per env, reset on episode start)
    ou_theta: float = 0.15  # OU mean reversion rate
    ou_dt: float = 1.0  # OU time step

    def validate(self):
        self.validate_offpolicy()
        if self.num_critics < 1:
            raise ValueError(f"num_critics must be >= 1, got {self.num_critics}")
        if self.policy_frequency < 1:
            raise ValueError(f"policy_frequency must be >= 1, got {self.policy_frequency}")
        for name in ("policy_noise", "noise_clip", "exploration_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        check_choice(self, "noise_type", NOISE_TYPES)
        if not 0 < self.ou_theta * self.ou_dt < 2:
            raise ValueError(f"ou_theta * ou_dt must be in (0, 2) for a stable OU process, got "
                             f"{self.ou_theta * self.ou_dt}")
        return self


TD3_PRESETS: dict[str, dict[str, Any]] = dict.fromkeys(PENDULUM_IDS, {**PENDULUM_FAST_PRESET, "gamma": 0.98})


@struct.dataclass
class TD3State(ActorCriticState):
    target_actor_params: Any


def _networks(config: TD3Config, spec: EnvSpec) -> tuple[DeterministicActor, QEnsemble]:
    return actor_critic_networks(DeterministicActor, config, spec)


def init(key: jax.Array, spec: EnvSpec, config: TD3Config) -> TD3State:
    config.validate()
    require_box(spec, type(config).__name__.removesuffix("Config"))
    actor_params, critic_params = init_actor_critic(key, spec, *_networks(config, spec))
    return TD3State(
        actor_params=actor_params,
        critic_params=critic_params,
        target_actor_params=own_copy(actor_params),
        target_critic_params=own_copy(critic_params),
        opt_state={"actor": ADAM.init(actor_params), "critic": ADAM.init(critic_params)},
        hparams=hparams_from_config(config),
        step=jnp.zeros((), jnp.int32),
        obs_stats=initial_obs_stats(spec),
        config=config,
        spec=spec,
    )


def init_exploration(state: TD3State, num_envs: int) -> jax.Array | None:
    """OU noise state ``[num_envs, action_dim]`` (zeros) for ``noise_type="ou"``; else None."""
    return ou_init(num_envs, state.spec.action_dim) if state.config.noise_type == "ou" else None


def explore(state: TD3State, exploration: jax.Array | None, noise: jax.Array, episode_start: jax.Array
            ) -> tuple[jax.Array, jax.Array | None]:
    """Acting noise ``[B, action_dim]`` in unit-box units from standard normal ``noise``:
    ``exploration_noise * noise`` (gaussian), or one OU step driven by ``noise`` with each env's
    state reset where ``episode_start [B]`` (ou)."""
    sigma = state.hparams["exploration_noise"]
    if state.config.noise_type != "ou":
        return sigma * noise, exploration
    exploration = ou_step(ou_reset(exploration, episode_start), noise, state.config.ou_theta, sigma, state.config.ou_dt)
    return exploration, exploration


def _act(state: TD3State, obs: jax.Array, noise: jax.Array | None, carry: None = None,
         episode_start: jax.Array | None = None) -> tuple[jax.Array, dict, None]:
    actor, _ = _networks(state.config, state.spec)
    noise = noise_or_zeros(noise, (obs.shape[0], state.spec.action_dim))
    unit = jnp.clip(actor.apply({"params": state.actor_params}, network_observations(state, obs)) + noise, -1.0, 1.0)
    return to_box(unit, *box_bounds(state.spec)), {}, carry


act = jax.jit(_act)
act.__doc__ = """Actions ``[B, action_dim]`` in the env's bounds: the actor's plus ``noise`` (from
:func:`explore`, unit-box units), or without noise when ``noise`` is None."""


def train_step(state: TD3State, batch: Transition, key: jax.Array) -> tuple[TD3State, dict[str, jax.Array]]:
    """One critic step, and every ``policy_frequency`` steps an actor step and target updates."""
    config, hp = state.config, state.hparams
    actor, critic = _networks(config, state.spec)
    low, high = box_bounds(state.spec)
    smoothing = jnp.clip(hp["policy_noise"] * flat_draw(jax.random.normal, key, batch.actions.shape),
                         -hp["noise_clip"], hp["noise_clip"])
    next_unit = jnp.clip(actor.apply({"params": state.target_actor_params}, batch.next_obs) + smoothing, -1.0, 1.0)
    next_outputs = critic.apply({"params": state.target_critic_params}, batch.next_obs, next_unit)
    returns, discount = nstep_returns(batch.rewards, batch.extras, hp["gamma"])
    target = critic_target(config, next_outputs, returns, discount, batch.terminated)
    unit_actions = from_box(batch.actions, low, high)

    def loss_of_critics(params):
        outputs = critic.apply({"params": params}, batch.obs, unit_actions)
        return critic_loss(config, outputs, target), critic_q(config, outputs)

    (q_loss, q_values), grads = jax.value_and_grad(loss_of_critics, has_aux=True)(state.critic_params)
    critic_params, critic_opt = adam_step(state.critic_params, grads, state.opt_state["critic"], hp["q_lr"])
    state = state.replace(critic_params=critic_params, opt_state={**state.opt_state, "critic": critic_opt},
                          step=state.step + 1)

    def actor_loss(params):
        unit = actor.apply({"params": params}, batch.obs)
        return -jnp.mean(critic_q(config, critic.apply({"params": state.critic_params}, batch.obs, unit))[0])

    def actor_and_targets(state):
        loss, grads = jax.value_and_grad(actor_loss)(state.actor_params)
        actor_params, actor_opt = adam_step(state.actor_params, grads, state.opt_state["actor"], hp["policy_lr"])
        state = state.replace(
            actor_params=actor_params,
            opt_state={**state.opt_state, "actor": actor_opt},
            target_actor_params=soft_update(state.target_actor_params, actor_params, hp["tau"]),
            target_critic_params=soft_update(state.target_critic_params, state.critic_params, hp["tau"]),
        )
        return state, loss

    def skip(state):
        return state, jnp.float32(jnp.nan)

    state, a_loss = jax.lax.cond(state.step % config.policy_frequency == 0, actor_and_targets, skip, state)
    return state, {"critic_loss": q_loss, "actor_loss": a_loss, "q_values": jnp.mean(q_values)}


update = make_update(train_step)

TD3 = Agent(init=init, act=act, update=update, sample_noise=standard_normal_noise, init_exploration=init_exploration,
            explore=explore, initial_carry=no_carry)
"""The TD3 agent (also DDPG's, whose config sets one critic, no smoothing and no delay)."""
