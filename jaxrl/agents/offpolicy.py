"""What DDPG, TD3 and SAC share: the config fields, validation, the Adam step, and
the update that runs several gradient steps on replay samples inside one ``lax.scan``.

The replay schedule itself (random actions first, when to update) is the loops'
(:func:`jaxrl.loops.schedules.step_schedule`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.base import flat_observations, parameter_norm
from jaxrl.config import ReplayConfig, check_fraction, check_hidden_sizes, check_positive, hparam
from jaxrl.core.distributional import categorical_support, cross_entropy, distributional_target, expected_values
from jaxrl.core.flat_draws import flat_draw
from jaxrl.core.normalization import RunningStats, init_running_stats, normalize, update_running_stats
from jaxrl.core.replay import ReplayBuffer, replay_sample_batches
from jaxrl.core.td import td_target
from jaxrl.nets.continuous import QEnsemble
from jaxrl.nets.init import init_in_one_batch
from jaxrl.nets.mlp import activation_by_name
from jaxrl.types import EnvSpec, Transition


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(ReplayConfig):
    """Fields every actor-critic off-policy agent has. Names follow CleanRL's DDPG/TD3/SAC scripts."""

    # --- the run (RunConfig's fields, with actor-critic defaults) ---
    env: str = "Pendulum-v1"  # env id with a bounded Box action space (`jaxrl envs --preset sac` lists tuned ones)
    total_timesteps: int = 20_000  # env steps (summed over envs)
    # --- optimisation ---
    gamma: float = hparam(0.99)  # discount
    tau: float = hparam(0.005)  # target-network Polyak rate, in (0, 1]
    policy_lr: float = hparam(3e-4)  # actor Adam step size
    q_lr: float = hparam(1e-3)  # critic Adam step size
    # --- network ---
    hidden_sizes: tuple[int, ...] = (256, 256)  # actor and critic MLP hidden sizes
    activation: str = "relu"  # tanh, relu, silu or elu
    critic_layer_norm: bool = False  # LayerNorm in every critic hidden layer (FastTD3; steadier Q at many updates per step)
    norm_obs: bool = False  # running mean/std observation normalisation, statistics from each update's replay samples
    num_atoms: int = 1  # 1: scalar Q critics; > 1: categorical (C51) critics over num_atoms returns in [v_min, v_max]
    v_min: float = -10.0  # lowest return of the categorical critics' support (num_atoms > 1)
    v_max: float = 10.0  # highest return of the categorical critics' support (num_atoms > 1)

    def validate_offpolicy(self) -> None:
        self.validate_replay()
        check_fraction(self, "gamma", "tau")
        check_positive(self, "policy_lr", "q_lr")
        check_hidden_sizes(self.hidden_sizes)
        activation_by_name(self.activation)
        if self.num_atoms < 1:
            raise ValueError(f"num_atoms must be >= 1 (1: a scalar critic), got {self.num_atoms}")
        if self.num_atoms > 1 and not self.v_min < self.v_max:
            raise ValueError(f"v_min must be below v_max for a categorical critic, got {self.v_min} and {self.v_max}")


# After RL Baselines3 Zoo's Pendulum-v1 settings (one env, 256x256, 20k steps), with 1,000 random
# steps first: the Pendulum presets start from it.
PENDULUM_PRESET: dict[str, Any] = {"total_timesteps": 20_000, "learning_starts": 1_000, "policy_lr": 1e-3,
                                   "q_lr": 1e-3, "buffer_size": 200_000}
# Both loops' Pendulum preset (gymnasium's Pendulum-v1 in the host loop, its JAX twins phys2d/Pendulum-v0 and
# gymnax/Pendulum-v1 in the device loop: jaxrl.envs.twins.PENDULUM_IDS): 8 envs and 8 gradient steps per vector step
# (one update per env step), 64x64 networks and batches of 128, whose gradient steps cost a fraction of 256x256's and
# 256's on a CPU, and 5-step returns, which cut the gradient steps needed. Device loop, seeds 0-29 (10-seed vmapped
# runs, 10 evaluation episodes each): SAC and TD3 (n=5) evaluate >= -200 on 29/30 and 20/20 seeds at 9k env steps,
# DDPG (n=3) on 18/20 (misses at -201 and -204), ~5.5 s a seed on a 2-core CPU, compilation included. Host loop, seeds
# 1-10 and 30-39: SAC 18/20, TD3 and DDPG 20/20, ~8-11 s a seed (learning__*-pendulum-fast__*.json); Zoo's settings
# took ~85 s there. The device preset before (16 envs, batch 256, 1-step returns) needed 16k steps (TD3, DDPG; SAC
# 24k) and 5.4-8.9 s; with 1-step returns and batch 256 at 8k steps SAC solved 7-8/10. SAC has since taken 3-step
# returns (sac.py: 48/48 held-out seeds against 41/48 with 5).
PENDULUM_FAST_PRESET: dict[str, Any] = {**PENDULUM_PRESET, "total_timesteps": 9_000, "learning_starts": 1_000,
                                        "num_envs": 8, "updates_per_step": 8, "batch_size": 128,
                                        "n_step": 5, "hidden_sizes": (64, 64)}


@struct.dataclass
class ActorCriticState:
    """What every actor-critic off-policy agent learns; TD3 and SAC add their own fields. A pytree;
    ``config`` and ``spec`` are static."""

    actor_params: Any
    critic_params: Any  # stacked over num_critics
    target_critic_params: Any
    opt_state: dict[str, Any]  # Adam states {"actor", "critic", ...}
    hparams: dict[str, jax.Array]  # vmappable fields as float32 scalars
    step: jax.Array  # int32: gradient steps done
    obs_stats: RunningStats  # of flat observations [obs_dim]; used where config.norm_obs
    config: Any = struct.field(pytree_node=False)
    spec: EnvSpec = struct.field(pytree_node=False)


def require_box(spec: EnvSpec, algorithm: str) -> None:
    if spec.action_nvec:
        raise ValueError(f"{algorithm} needs a Box (continuous) action space, but this env's actions have "
                         f"{len(spec.action_nvec)} discrete components; use `jaxrl train ppo` for them")
    if spec.discrete:
        raise ValueError(
            f"{algorithm} needs a Box (continuous) action space, but this env's actions are Discrete "
            f"({spec.action_dim} actions); use `jaxrl train ppo`, pqn or dqn for discrete actions"
        )


def box_bounds(spec: EnvSpec) -> tuple[jax.Array, jax.Array]:
    return jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32)


def _support(config: OffPolicyConfig) -> jax.Array:
    return categorical_support(config.num_atoms, config.v_min, config.v_max)


def critic_q(config: OffPolicyConfig, outputs: jax.Array) -> jax.Array:
    """Q values ``[C, N]`` from a critic ensemble's outputs: ``[C, N]`` scalar critics, or ``[C, N, K]``
    logits of categorical ones (``config.num_atoms`` = K > 1), whose mean return it takes."""
    return outputs if config.num_atoms == 1 else expected_values(outputs, _support(config))


def critic_target(config: OffPolicyConfig, next_outputs: jax.Array, returns: jax.Array, discount: jax.Array,
                  terminated: jax.Array, shift: jax.Array | float = 0.0) -> jax.Array:
    """What the critics regress on, from the target critics' outputs at the next state (``[C, N]``
    or ``[C, N, K]``), the (n-step) ``returns [N]``, the bootstrap ``discount [N]`` and ``terminated [N]``;
    ``shift [N]`` is added to the next value (SAC: ``-alpha * log_prob``). Scalar critics: the TD
    target ``[N]`` from the lowest member; categorical ones: the projected distribution ``[N, K]``
    (:func:`jaxrl.core.distributional.distributional_target`). Gradients stop here."""
    if config.num_atoms == 1:
        target = td_target(returns, next_outputs.min(axis=0) + shift, terminated, discount)
    else:
        target = distributional_target(next_outputs, _support(config), returns, discount, terminated, shift)
    return jax.lax.stop_gradient(target)


def critic_loss(config: OffPolicyConfig, outputs: jax.Array, target: jax.Array) -> jax.Array:
    """Summed over the critics, averaged over the batch: the squared TD error (scalar critics) or
    the cross-entropy to the projected target distribution (categorical ones)."""
    per_item = jnp.square(outputs - target) if config.num_atoms == 1 else cross_entropy(outputs, target)
    return jnp.mean(jnp.sum(per_item, axis=0))


ADAM = optax.scale_by_adam()


def actor_critic_networks(actor_cls: type, config: OffPolicyConfig, spec: EnvSpec) -> tuple[Any, QEnsemble]:
    """The actor (``actor_cls(action_dim, hidden_sizes, activation)``) and the ``num_critics`` Q ensemble."""
    actor = actor_cls(spec.action_dim, tuple(config.hidden_sizes), config.activation)
    return actor, QEnsemble(config.num_critics, tuple(config.hidden_sizes), config.activation,
                            config.critic_layer_norm, config.num_atoms)


def init_actor_critic(key: jax.Array, spec: EnvSpec, actor: Any, critic: Any) -> tuple[Any, Any]:
    """Parameters of an actor on observations and a critic on (observation, unit action)."""
    obs = jnp.zeros((1, spec.policy_size), jnp.float32)

    def init_both(key: jax.Array) -> tuple[Any, Any]:
        actor_key, critic_key = jax.random.split(key)
        return (actor.init(actor_key, obs)["params"],
                critic.init(critic_key, obs, jnp.zeros((1, spec.action_dim)))["params"])

    return init_in_one_batch(init_both, key)


def initial_obs_stats(spec: EnvSpec) -> RunningStats:
    """Observation statistics before any data: zero mean, unit variance over the flat observation."""
    return init_running_stats((spec.policy_size,))


def _normalized(state: Any, flat: jax.Array) -> jax.Array:
    """Flat observations ``[..., obs_dim]`` normalised by the running statistics where ``config.norm_obs``."""
    return normalize(state.obs_stats, flat) if state.config.norm_obs else flat


def network_observations(state: Any, obs: jax.Array) -> jax.Array:
    """What the actor and the critic read: flat observations ``[..., obs_dim]``, normalised by the
    state's running statistics where ``config.norm_obs``."""
    return _normalized(state, flat_observations(obs, state.spec))


def own_copy(params: Any) -> Any:
    """A copy with its own buffers, for target networks: the host loop donates the whole state."""
    return jax.tree.map(jnp.copy, params)


def standard_normal_noise(state: Any, key: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    """``sample_noise`` of the Box agents: ``N(0, 1)`` draws ``[*batch_shape, action_dim]``."""
    return flat_draw(jax.random.normal, key, (*batch_shape, state.spec.action_dim))


def adam_step(params: Any, grads: Any, opt_state: Any, step_size: jax.Array) -> tuple[Any, Any]:
    """One Adam step with a (possibly traced, so vmappable) step size."""
    direction, opt_state = ADAM.update(grads, opt_state, params)
    return jax.tree.map(lambda p, d: p - step_size * d, params, direction), opt_state


def make_update(train_step: Callable[[Any, Transition, jax.Array], tuple[Any, dict]]) -> Callable:
    """``update(state, buffer, key) -> (state, metrics)``: ``updates_per_step`` gradient steps, each on
    a fresh uniform sample of ``batch_size`` transitions, inside one jitted ``lax.scan``.

    Metrics are averaged over the steps (NaN entries, e.g. a skipped delayed actor step, ignored);
    ``param_norm`` is the global norm of the actor and critic parameters after the last step.
    With ``norm_obs`` the observation statistics first take in the sampled observations, and
    every gradient step of the update reads observations normalised by them.
    """

    def update(state: Any, buffer: ReplayBuffer, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        step_keys = jax.vmap(jax.random.split)(jax.random.split(key, state.config.updates_per_step))
        batches = replay_sample_batches(buffer, step_keys[:, 0], state.config.batch_size)
        obs, next_obs = (flat_observations(o, state.spec) for o in (batches.obs, batches.next_obs))
        if state.config.norm_obs:  # the samples are uniform over the buffer: they update its statistics
            state = state.replace(obs_stats=update_running_stats(state.obs_stats, obs.reshape(-1, obs.shape[-1])))
        batches = batches.replace(obs=_normalized(state, obs), next_obs=_normalized(state, next_obs))
        state, metrics = jax.lax.scan(lambda state, inputs: train_step(state, *inputs), state,
                                      (batches, step_keys[:, 1]))
        param_norm = parameter_norm((state.actor_params, state.critic_params))  # catches non-finite params
        return state, {**jax.tree.map(jnp.nanmean, metrics), "param_norm": param_norm}

    return jax.jit(update)
