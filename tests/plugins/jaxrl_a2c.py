"""A2C written outside jaxrl against its agent contract: a researcher's own algorithm in one module.

Importing it registers ``a2c`` (:func:`jaxrl.register_algorithm`); ``tests/test_plugins.py`` also
installs it as a ``jaxrl.algorithms`` entry point, which gives it ``jaxrl train a2c``. Synchronous
advantage actor-critic: one gradient step per rollout on the policy-gradient loss with GAE
advantages, a value loss and an entropy bonus; separate 64x64 tanh actor and critic.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

import jaxrl
from jaxrl.agents.base import flat_observations, no_carry, no_exploration, noise_as_is, require_discrete
from jaxrl.config import OnPolicyConfig, check_positive, hparam, hparams_from_config
from jaxrl.core.bootstrap import next_observation_values
from jaxrl.core.distributions import Categorical
from jaxrl.nets.mlp import MLP, dense
from jaxrl.types import Agent, EnvSpec, Rollout


@dataclasses.dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    """A2C on a discrete action space (CleanRL-like names)."""

    num_envs: int = 8  # parallel envs
    num_steps: int = 16  # steps per env per rollout
    update_epochs: int = 1  # A2C: one gradient step per rollout
    num_minibatches: int = 1  # the whole rollout in that step
    learning_rate: float = hparam(2.5e-3)  # Adam step size
    gamma: float = hparam(0.99)  # discount
    gae_lambda: float = hparam(0.95)  # GAE lambda
    ent_coef: float = hparam(0.01)  # entropy bonus
    vf_coef: float = hparam(0.5)  # value-loss weight

    def validate(self) -> A2CConfig:
        self.validate_schedule()
        check_positive(self, "learning_rate", "gamma")
        return self


class ActorCritic(nn.Module):
    num_actions: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``obs [N, D]`` -> (logits ``[N, A]``, values ``[N]``)."""
        logits = dense(self.num_actions, 0.01)(MLP((64, 64))(obs))
        return logits, dense(1, 1.0)(MLP((64, 64))(obs))[..., 0]


@struct.dataclass
class A2CState:
    params: Any
    opt_state: Any
    hparams: dict[str, jax.Array]
    config: A2CConfig = struct.field(pytree_node=False)
    spec: EnvSpec = struct.field(pytree_node=False)


def _forward(state: A2CState, params: Any, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
    flat = flat_observations(obs, state.spec)
    return ActorCritic(state.spec.action_dim).apply(params, flat.reshape(-1, flat.shape[-1]))


def init(key: jax.Array, spec: EnvSpec, config: A2CConfig) -> A2CState:
    config.validate()
    require_discrete(spec, "A2C")
    params = ActorCritic(spec.action_dim).init(key, jnp.zeros((1, spec.policy_size)))
    return A2CState(params, optax.scale_by_adam().init(params), hparams_from_config(config), config, spec)


def act(state: A2CState, obs: jax.Array, noise: jax.Array | None, carry: None, episode_start: jax.Array):
    """Actions ``[B]`` (Gumbel-max over ``noise [B, A]``; greedy without it) and the values ``[B]``."""
    logits, values = _forward(state, state.params, obs)
    policy = Categorical(logits)
    actions = policy.mode() if noise is None else policy.sample_from_noise(noise)
    return actions, {"value": values, "log_prob": policy.log_prob(actions)}, carry


def sample_noise(state: A2CState, key: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    return jax.random.gumbel(key, (*batch_shape, state.spec.action_dim))


def update(state: A2CState, rollout: Rollout, key: jax.Array) -> tuple[A2CState, dict[str, jax.Array]]:
    """One gradient step on the whole ``[T, B]`` rollout."""
    h = state.hparams
    steps, envs = rollout.rewards.shape
    next_values = next_observation_values(lambda obs: _forward(state, state.params, obs)[1], rollout.obs,
                                          rollout.next_obs, rollout.extras["value"], rollout.terminated)
    advantages, returns = jaxrl.gae(rollout.rewards, rollout.extras["value"], next_values, rollout.terminated,
                                    rollout.truncated, h["gamma"], h["gae_lambda"])
    weights = rollout.mask / jnp.maximum(rollout.mask.sum(), 1.0)

    def loss(params: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        logits, values = _forward(state, params, rollout.obs)
        policy = Categorical(logits.reshape(steps, envs, -1))
        policy_loss = -jnp.sum(weights * policy.log_prob(rollout.actions) * jax.lax.stop_gradient(advantages))
        value_loss = jnp.sum(weights * (values.reshape(steps, envs) - returns) ** 2)
        entropy = jnp.sum(weights * policy.entropy())
        total = policy_loss + h["vf_coef"] * value_loss - h["ent_coef"] * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

    grads, metrics = jax.grad(loss, has_aux=True)(state.params)
    direction, opt_state = optax.scale_by_adam().update(grads, state.opt_state)
    params = jax.tree.map(lambda p, d: p - h["learning_rate"] * d, state.params, direction)
    return state.replace(params=params, opt_state=opt_state), metrics


# the host loop calls act and update as they are (the device loop traces them into its own program)
A2C = Agent(init=init, act=jax.jit(act), update=jax.jit(update), sample_noise=sample_noise, init_exploration=no_exploration,
            explore=noise_as_is, initial_carry=no_carry)
ALGORITHM = jaxrl.register_algorithm(jaxrl.Algorithm(
    "a2c", A2CConfig, lambda config: A2C, jaxrl.ON_POLICY, presets={},
    finite_metrics=("policy_loss", "value_loss")))
