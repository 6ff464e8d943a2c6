"""What DDPG, TD3 and SAC share: the config fields, validation, the Adam step, and
the update that runs several gradient steps on replay samples inside one ``lax.scan``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxrl.config import validate_common
from jaxrl.core.noise import ou_reset, ou_step
from jaxrl.core.replay import ReplayBuffer, replay_sample
from jaxrl.nets.mlp import activation_by_name
from jaxrl.types import EnvSpec, Transition


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig:
    """Fields every off-policy agent has. Names follow CleanRL's DDPG/TD3/SAC scripts."""

    # --- environment and run ---
    env: str = "Pendulum-v1"  # gymnasium env id with a bounded Box action space
    seed: int = 1  # seeds the env, network init, exploration and sampling
    total_timesteps: int = 20_000  # env steps (summed over envs)
    num_envs: int = 1  # parallel envs; each env step adds num_envs transitions
    vectorization: str = "sync"  # "sync", "async", "vector_entry_point" or "envpool" (extra)
    # --- replay and schedule ---
    buffer_size: int = 1_000_000  # replay capacity (transitions)
    batch_size: int = 256  # transitions per gradient step
    learning_starts: int = 1_000  # env steps of uniformly random actions before learning
    train_frequency: int = 1  # vector-env steps between update calls
    updates_per_step: int = 1  # gradient steps per update call (update-to-data ratio), in one lax.scan
    # --- optimisation ---
    gamma: float = 0.99  # discount
    tau: float = 0.005  # target-network Polyak rate, in (0, 1]
    policy_lr: float = 3e-4  # actor Adam step size
    q_lr: float = 1e-3  # critic Adam step size
    # --- network ---
    hidden_sizes: tuple[int, ...] = (256, 256)  # actor and critic MLP hidden sizes
    activation: str = "relu"  # tanh, relu, silu or elu
    # --- logging, stopping and checkpoints (host loop) ---
    log_every: int = 1_000  # env steps per metrics record
    target_return: float | None = None  # stop once the mean return of recent episodes reaches it
    patience: int | None = None  # stop after this many records without a new best mean return
    checkpoint_every: int = 10  # records between periodic checkpoints (0: final only)
    keep_checkpoints: int = 3  # most recent checkpoints kept on disk
    progress: bool = True  # show a progress bar
    check_env_finite: bool = True  # error naming the env index when an env returns a NaN/inf observation or reward
    env_step_timeout: float | None = 300.0  # seconds an async env's step or reset may take (None: no limit)

    def validate_offpolicy(self) -> None:
        validate_common(self)
        for name in ("buffer_size", "batch_size", "train_frequency", "updates_per_step", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        for name in ("policy_lr", "q_lr"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive ints, got {self.hidden_sizes}")
        activation_by_name(self.activation)


def require_box(spec: EnvSpec, algorithm: str) -> None:
    if spec.discrete:
        raise ValueError(
            f"{algorithm} needs a Box (continuous) action space, but this env's actions are Discrete "
            f"({spec.action_dim} actions); use `jaxrl train ppo` for discrete actions"
        )


def box_bounds(spec: EnvSpec) -> tuple[jax.Array, jax.Array]:
    return jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32)


ADAM = optax.scale_by_adam()


def init_actor_critic(key: jax.Array, spec: EnvSpec, actor: Any, critic: Any) -> tuple[Any, Any]:
    """Parameters of an actor on observations and a critic on (observation, unit action)."""
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1, *spec.observation_shape), jnp.float32)
    actor_params = actor.init(actor_key, obs)["params"]
    critic_params = critic.init(critic_key, obs, jnp.zeros((1, spec.action_dim)))["params"]
    return actor_params, critic_params


def own_copy(params: Any) -> Any:
    """A copy with its own buffers, for target networks: the host loop donates the whole state."""
    return jax.tree.map(jnp.copy, params)


def make_act(act_from_noise: Callable, exploration_noise: Callable) -> Callable:
    """Jitted ``act(state, obs, key, deterministic=False)``: the agent's own exploration noise, or
    zero noise (its deterministic action) when ``deterministic``."""

    def act(state: Any, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> tuple[jax.Array, dict]:
        noise = exploration_noise(state, key, obs.shape[:1])
        return act_from_noise(state, obs, jnp.zeros_like(noise) if deterministic else noise)

    act.__doc__ = "Actions ``[B, action_dim]`` in the env's bounds (``deterministic``: without exploration noise)."
    return jax.jit(act, static_argnames=("deterministic",))


def adam_step(params: Any, grads: Any, opt_state: Any, step_size: jax.Array) -> tuple[Any, Any]:
    """One Adam step with a (possibly traced, so vmappable) step size."""
    direction, opt_state = ADAM.update(grads, opt_state, params)
    return jax.tree.map(lambda p, d: p - step_size * d, params, direction), opt_state


def make_update(train_step: Callable[[Any, Transition, jax.Array], tuple[Any, dict]]) -> Callable:
    """``update(state, buffer, key) -> (state, metrics)``: ``updates_per_step`` gradient steps, each on
    a fresh uniform sample of ``batch_size`` transitions, inside one jitted ``lax.scan``.

    Metrics are averaged over the steps (NaN entries, e.g. a skipped delayed actor step, ignored);
    ``param_norm`` is the global norm of the actor and critic parameters after the last step.
    """

    def update(state: Any, buffer: ReplayBuffer, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        def gradient_step(state, step_key):
            sample_key, train_key = jax.random.split(step_key)
            return train_step(state, replay_sample(buffer, sample_key, state.config.batch_size), train_key)

        keys = jax.random.split(key, state.config.updates_per_step)
        state, metrics = jax.lax.scan(gradient_step, state, keys)
        param_norm = optax.tree.norm((state.actor_params, state.critic_params))  # catches non-finite params
        return state, {**jax.tree.map(jnp.nanmean, metrics), "param_norm": param_norm}

    return jax.jit(update)


def step_schedule(iteration: Any, num_envs: int, config: OffPolicyConfig) -> tuple[Any, Any]:
    """``(acting, learning)`` for vector-env step ``iteration`` (0-based): the policy (not uniform
    random actions) acts once ``learning_starts`` env steps are done, and an ``update`` follows
    the step when it takes the run past ``learning_starts`` on a ``train_frequency`` boundary.

    Works on Python ints (host loop) and traced arrays (device loop) alike.
    """
    acting = iteration * num_envs >= config.learning_starts
    learning = ((iteration + 1) * num_envs > config.learning_starts) & (iteration % config.train_frequency == 0)
    return acting, learning


def exploring_actions(agent: Any, state: Any, obs: jax.Array, key: jax.Array, ou_state: jax.Array,
                      episode_start: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The agent's noisy actions ``[B, action_dim]`` for ``obs [B, ...]``, and the new OU state.

    ``noise_type="ou"`` (TD3/DDPG): per-env Ornstein-Uhlenbeck noise, reset where
    ``episode_start [B]``; otherwise the agent's own ``exploration_noise``. Both loops
    act through this function.
    """
    config = state.config
    if getattr(config, "noise_type", "gaussian") == "ou":
        ou_state = ou_reset(ou_state, episode_start)
        ou_state, noise = ou_step(ou_state, key, config.ou_theta, state.hparams["exploration_noise"], config.ou_dt)
    else:
        noise = agent.exploration_noise(state, key, obs.shape[:1])
    actions, _ = agent.act_from_noise(state, obs, noise)
    return actions, ou_state
