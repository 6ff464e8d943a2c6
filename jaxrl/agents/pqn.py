"""PQN (Gallici et al., "Simplifying Deep Temporal Difference Learning", 2024): :data:`PQN`.

Parallel Q-learning without a replay buffer or a target network: many envs act
epsilon-greedily for ``num_steps``, the rollout's Q(lambda) returns
(:func:`jaxrl.core.qlambda.q_lambda_returns`) are the targets, and a LayerNorm Q-network
regresses on them for ``update_epochs`` x ``num_minibatches`` minibatches. It runs on the
on-policy schedule, so both loops, resume and ``vmap`` over seeds and ``hparam`` fields come
with the :class:`~jaxrl.types.Agent` contract.

Exploration is the agent's own: ``sample_noise`` draws two uniforms per env, ``act`` takes a
uniformly random action where the first is below the current epsilon (a linear decay from
``eps_start`` to ``eps_finish`` over the first ``exploration_fraction`` of the updates, read
from ``state.update_step``) and the greedy one elsewhere.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.base import (
    clip_by_global_norm,
    no_carry,
    no_exploration,
    noise_as_is,
    parameter_norm,
    require_discrete,
)
from jaxrl.agents.value_based import epsilon_greedy_noise, init_q_params, q_values
from jaxrl.config import (
    OnPolicyConfig,
    check_at_least,
    check_choice,
    check_clip,
    check_conv_layout,
    check_fraction,
    check_hidden_sizes,
    check_in_unit_interval,
    check_positive,
    hparam,
    hparams_from_config,
)
from jaxrl.core.bootstrap import next_observation_values
from jaxrl.core.minibatches import shuffled_minibatches
from jaxrl.core.noise import epsilon_greedy
from jaxrl.core.qlambda import q_lambda_returns
from jaxrl.envs.atari import PREFIX as ATARI_PREFIX
from jaxrl.envs.gymnax_suite import MINATAR_IDS
from jaxrl.envs.twins import CARTPOLE_IDS
from jaxrl.nets.conv import PADDINGS
from jaxrl.nets.mlp import activation_by_name
from jaxrl.types import Agent, EnvSpec, Rollout

# The update direction of each optimizer; the (decayed) step size is applied in the update.
OPTIMIZERS = {"adam": optax.scale_by_adam, "radam": optax.scale_by_radam}


@dataclasses.dataclass(frozen=True)
class PQNConfig(OnPolicyConfig):
    """Every knob of a PQN run. The defaults solve CartPole-v1 in 200k steps (14 of seeds 1-15 evaluate
    >= 475; the step-size decay from 1e-3 was chosen on seeds 1-10 over a constant 3e-4: 3/5)."""

    # --- the run and its schedule (RunConfig's and OnPolicyConfig's fields, with PQN defaults) ---
    total_timesteps: int = 200_000  # env steps (summed over envs), rounded down to whole batches
    num_envs: int = 16  # parallel envs; PQN wants many
    # --- optimisation ---
    learning_rate: float = hparam(1e-3)  # optimizer step size
    optimizer: str = "adam"  # adam, or radam (rectified Adam, what the PQN paper trains with)
    anneal_lr: bool = True  # decay the step size linearly to 0 over the run
    max_grad_norm: float = hparam(10.0)  # global-norm gradient clip
    adam_eps: float = 1e-8  # Adam's (or RAdam's) epsilon
    # --- objective ---
    gamma: float = hparam(0.99)  # discount
    reward_clip: float | None = hparam(None, when_none=math.inf)  # clip rewards to [-reward_clip, reward_clip] in
    # the Q(lambda) targets (Atari: 1); the reported returns keep the raw ones; None: no clip
    q_lambda: float = hparam(0.65)  # lambda of the Q(lambda) returns (0: one-step targets)
    # --- epsilon-greedy exploration ---
    eps_start: float = hparam(1.0)  # epsilon at the first update
    eps_finish: float = hparam(0.05)  # epsilon after the decay
    exploration_fraction: float = hparam(0.2)  # fraction of the updates over which epsilon decays linearly
    # --- network ---
    hidden_sizes: tuple[int, ...] = (128, 128)  # Q-network hidden layer sizes
    activation: str = "relu"  # tanh, relu, silu or elu
    layer_norm: bool = True  # LayerNorm after each hidden layer (what stands in for a target network)
    conv_channels: tuple[int, ...] = ()  # conv layers before the MLP, for image observations (MinAtar: 16)
    conv_kernels: tuple[int, ...] = ()  # each conv's kernel size (Atari's: 8 4 3); empty: 3 each
    conv_strides: tuple[int, ...] = ()  # each conv's stride (Atari's: 4 2 1); empty: 1 each
    conv_layer_norm: bool = False  # LayerNorm over channels after each conv layer, before its ReLU
    conv_padding: str = "same"  # same (10x10 maps from MinAtar's grid) or valid (8x8: MinAtar's and purejaxql's)

    def validate(self) -> PQNConfig:
        """Raise ``ValueError`` naming the first invalid field; return self when valid."""
        self.validate_schedule()
        self.check_minibatches_divide_the_batch()
        check_fraction(self, "gamma")
        check_clip(self, "reward_clip")
        check_positive(self, "learning_rate", "max_grad_norm")
        check_at_least(self, 0, "adam_eps")
        check_in_unit_interval(self, "q_lambda", "eps_start", "eps_finish")
        check_fraction(self, "exploration_fraction")
        check_hidden_sizes(self.hidden_sizes)
        check_conv_layout(self.conv_channels, self.conv_kernels, self.conv_strides)
        check_choice(self, "conv_padding", PADDINGS)
        activation_by_name(self.activation)
        check_choice(self, "optimizer", OPTIMIZERS)
        return self


PQN_PRESETS: dict[str, dict[str, Any]] = dict.fromkeys(CARTPOLE_IDS, {})
# purejaxql's published MinAtar config (the PQN authors' config/alg/pqn_minatar.yaml), one for every MinAtar
# game: 128 envs x 32 steps, 2 x 32 minibatches, RAdam 5e-4 decaying, a 16-channel conv and a 128-unit
# layer, LayerNorm after each, 10M steps. Run beside purejaxql itself: benchmarks/peer_purejaxql_pqn.py.
MINATAR_PRESET: dict[str, Any] = {
    "total_timesteps": 10_000_000, "num_envs": 128, "num_steps": 32, "update_epochs": 2, "num_minibatches": 32,
    "learning_rate": 5e-4, "anneal_lr": True, "optimizer": "radam", "max_grad_norm": 10.0, "gamma": 0.99,
    "q_lambda": 0.65, "eps_start": 1.0, "eps_finish": 0.05, "exploration_fraction": 0.1, "hidden_sizes": (128,),
    "activation": "relu", "layer_norm": True, "conv_channels": (16,), "conv_layer_norm": True,
}
PQN_PRESETS.update(dict.fromkeys(MINATAR_IDS, MINATAR_PRESET))
# Atari (ALE/<Game>-v5, preprocessed by jaxrl.envs.atari): purejaxql's pqn_atari.yaml on the DQN paper's convs
# and a 512 layer, LayerNorm after each (its CNN): 128 envs x 32 steps, 2 x 32 minibatches, RAdam at a constant
# 2.5e-4, gradients clipped at 10, lambda 0.65, epsilon 1 -> 0.001 over the first 10%, rewards clipped to
# [-1, 1], 10M steps. purejaxql's envpool envs also end an episode at each lost life and have no sticky
# actions; jaxrl's keep the v5 protocol (jaxrl.envs.atari).
ATARI_PQN_PRESET: dict[str, Any] = {
    "total_timesteps": 10_000_000, "num_envs": 128, "num_steps": 32, "update_epochs": 2, "num_minibatches": 32,
    "learning_rate": 2.5e-4, "anneal_lr": False, "optimizer": "radam", "max_grad_norm": 10.0, "gamma": 0.99,
    "q_lambda": 0.65, "eps_start": 1.0, "eps_finish": 0.001, "exploration_fraction": 0.1, "reward_clip": 1.0,
    "hidden_sizes": (512,), "activation": "relu", "layer_norm": True, "conv_channels": (32, 64, 64),
    "conv_kernels": (8, 4, 3), "conv_strides": (4, 2, 1), "conv_padding": "valid", "conv_layer_norm": True,
}
PQN_PREFIX_PRESETS: dict[str, dict[str, Any]] = {ATARI_PREFIX: ATARI_PQN_PRESET}


@struct.dataclass
class PQNState:
    """Everything PQN learns or schedules. A pytree; ``config`` and ``spec`` are static."""

    params: Any  # the Q-network's flax params
    opt_state: optax.OptState  # Adam's moments
    hparams: dict[str, jax.Array]  # vmappable fields as float32 scalars
    update_step: jax.Array  # int32: updates done (drives epsilon and the step-size decay)
    config: PQNConfig = struct.field(pytree_node=False)
    spec: EnvSpec = struct.field(pytree_node=False)


def _optimizer(config: PQNConfig) -> optax.GradientTransformation:
    return OPTIMIZERS[config.optimizer](eps=config.adam_eps)


def init(key: jax.Array, spec: EnvSpec, config: PQNConfig) -> PQNState:
    """Fresh Q-network parameters and Adam state."""
    config.validate()
    require_discrete(spec, "PQN")
    params = init_q_params(key, config, spec)
    return PQNState(params=params, opt_state=_optimizer(config).init(params),
                    hparams=hparams_from_config(config),
                    update_step=jnp.zeros((), jnp.int32), config=config, spec=spec)


def epsilon(state: PQNState) -> jax.Array:
    """The exploration rate at ``state.update_step``: linear from eps_start to eps_finish, then flat."""
    hp = state.hparams
    decay_updates = jnp.maximum(hp["exploration_fraction"] * state.config.num_updates, 1.0)
    progress = jnp.minimum(state.update_step.astype(jnp.float32) / decay_updates, 1.0)
    return hp["eps_start"] + progress * (hp["eps_finish"] - hp["eps_start"])


def _act(state: PQNState, obs: jax.Array, noise: jax.Array | None, carry: None = None,
         episode_start: jax.Array | None = None) -> tuple[jax.Array, dict, None]:
    q = q_values(state, state.params, obs)
    # The greedy value is kept so the update can reuse it as the previous step's bootstrap.
    return epsilon_greedy(q, noise, epsilon(state)), {"max_q": jnp.max(q, axis=-1)}, carry


act = jax.jit(_act)
act.__doc__ = """Epsilon-greedy actions ``[B]`` int32 for ``obs [B, *obs_shape]`` from ``noise [B, 2]``
(:func:`sample_noise`); the greedy ones when ``noise`` is None. Extras: ``{"max_q": [B]}``, the greedy
value of ``obs``."""


def _update(state: PQNState, rollout: Rollout, key: jax.Array) -> tuple[PQNState, dict[str, jax.Array]]:
    config, hp = state.config, state.hparams
    next_max_q = next_observation_values(lambda obs: jnp.max(q_values(state, state.params, obs), axis=-1),
                                         rollout.obs, rollout.next_obs, rollout.extras["max_q"], rollout.terminated)
    rewards = jnp.clip(rollout.rewards, -hp["reward_clip"], hp["reward_clip"])
    returns = jax.lax.stop_gradient(q_lambda_returns(rewards, next_max_q, rollout.terminated,
                                                     rollout.truncated, hp["gamma"], hp["q_lambda"]))
    num_samples = rollout.rewards.size
    samples = {"obs": rollout.obs.reshape((num_samples, *rollout.obs.shape[2:])),
               "actions": rollout.actions.reshape(-1), "returns": returns.reshape(-1),
               "mask": rollout.mask.reshape(-1).astype(jnp.float32)}
    lr_fraction = 1.0 - state.update_step / config.num_updates if config.anneal_lr else 1.0
    step_size = hp["learning_rate"] * lr_fraction

    def loss(params: Any, mb: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        q = jnp.take_along_axis(q_values(state, params, mb["obs"]), mb["actions"][:, None], axis=-1)[:, 0]
        weight = mb["mask"] / jnp.maximum(jnp.sum(mb["mask"]), 1.0)
        return 0.5 * jnp.sum(weight * jnp.square(q - mb["returns"])), jnp.sum(weight * q)

    def minibatch_step(carry, mb):
        params, opt_state = carry
        (value, mean_q), grads = jax.value_and_grad(loss, has_aux=True)(params, mb)
        grads, grad_norm = clip_by_global_norm(grads, hp["max_grad_norm"])
        direction, opt_state = _optimizer(config).update(grads, opt_state, params)
        params = jax.tree.map(lambda p, d: p - step_size * d, params, direction)
        return (params, opt_state), {"loss": value, "q_values": mean_q, "grad_norm": grad_norm}

    def epoch(carry, epoch_key):
        carry, metrics = jax.lax.scan(minibatch_step, carry,
                                      shuffled_minibatches(epoch_key, samples, config.num_minibatches))
        return carry, metrics

    (params, opt_state), metrics = jax.lax.scan(epoch, (state.params, state.opt_state),
                                                jax.random.split(key, config.update_epochs))
    metrics = {name: jnp.mean(values) for name, values in metrics.items()}
    metrics.update(epsilon=epsilon(state), learning_rate=step_size, param_norm=parameter_norm(params))
    return state.replace(params=params, opt_state=opt_state, update_step=state.update_step + 1), metrics


update = jax.jit(_update)
update.__doc__ = """One PQN update on a time-major rollout ``[T, B]``: Q(lambda) targets from the greedy
values of ``next_obs`` with the current parameters (acting's ``max_q`` of the next step where the env
continued, :func:`~jaxrl.core.bootstrap.next_observation_values`), then ``update_epochs`` x ``num_minibatches`` Adam steps
on the squared error (masked steps excluded). Metrics: loss, q_values, grad_norm, epsilon (the one that
acted), learning_rate, param_norm."""

PQN = Agent(init=init, act=act, update=update, sample_noise=epsilon_greedy_noise, init_exploration=no_exploration,
            explore=noise_as_is, initial_carry=no_carry)
"""The PQN agent."""
