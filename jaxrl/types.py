"""Data containers and the agent contract shared across layers. No logic.

Shape convention: ``B`` envs, ``T`` steps of a rollout (time-major), ``N`` stored
transitions, ``A`` the action dimension (Box) or number of actions (Discrete).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
from flax import struct


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an agent needs to know about an environment. Hashable (static under jit).

    Observations reach the agent as arrays of ``observation_shape`` and ``observation_dtype``
    (any space but a Box flattened, discrete parts one-hot: ``jaxrl.envs.spec``): float32, or uint8
    for pixels (a uint8 Box bounded by 0 and 255, e.g. Atari frames), which stay uint8 in rollouts
    and replay buffers (a quarter of the memory) and reach the networks scaled to ``[0, 1]``. Where the env also gives a
    privileged observation for the critic (MuJoCo Playground's ``privileged_state``), it is the
    last ``privileged_size`` entries of the flat observation: policies read only the first
    :attr:`policy_size`, an asymmetric critic reads them all.
    """

    observation_shape: tuple[int, ...]
    discrete: bool  # Discrete, MultiDiscrete or MultiBinary action space (else Box)
    action_dim: int  # number of actions (discrete: logits, summed over components) or Box dimension
    action_low: tuple[float, ...] | None = None  # Box bounds, None for discrete
    action_high: tuple[float, ...] | None = None
    privileged_size: int = 0  # trailing entries of the flat observation only a critic may read
    action_nvec: tuple[int, ...] = ()  # MultiDiscrete / MultiBinary: choices per action component
    observation_dtype: str = "float32"  # float32, or uint8 for pixel observations in [0, 255]

    @property
    def action_shape(self) -> tuple[int, ...]:
        """One env's action: ``()`` (Discrete), ``(len(action_nvec),)`` or ``(action_dim,)`` (Box)."""
        if self.action_nvec:
            return (len(self.action_nvec),)
        return () if self.discrete else (self.action_dim,)

    @property
    def policy_size(self) -> int:
        """Entries of the flat observation a policy reads."""
        size = 1
        for dim in self.observation_shape:
            size *= dim
        return size - self.privileged_size


@struct.dataclass
class Transition:
    """Env steps as the loops hand them to a learner: ``[B]`` (one vector-env step) or
    ``[N]`` (a replay sample); a :class:`Rollout` adds a leading time axis.

    ``next_obs`` is the true next observation (the final one where an episode ended), so a
    time-limit cut (``truncated``) bootstraps from it and only ``terminated`` stops
    bootstrapping. ``extras`` is what the agent's ``act`` returned beside the actions
    (PPO: ``log_prob`` and ``value``; a recurrent agent also its ``carry`` and
    ``episode_start``); only the agent reads it.
    """

    obs: jax.Array  # [..., *obs_shape] float32, or uint8 pixels (EnvSpec.observation_dtype)
    actions: jax.Array  # [...] int32 (discrete) or [..., A] float32
    rewards: jax.Array  # [...] raw env rewards
    terminated: jax.Array  # [...] bool
    truncated: jax.Array  # [...] bool
    next_obs: jax.Array  # [..., *obs_shape]
    extras: Any  # pytree of [..., ...] arrays, the agent's own


@struct.dataclass
class Rollout(Transition):
    """A time-major on-policy batch ``[T, B, ...]``; ``mask`` is 0 for a step whose action
    the env ignored (a NEXT_STEP autoreset step of a host vector env)."""

    mask: jax.Array  # [T, B] float32 in {0, 1}


class Agent(NamedTuple):
    """An algorithm as pure functions, in the spirit of optax's ``GradientTransformation``.

    The loops call only these; each agent module exports one ``Agent`` value (PPO two:
    feed-forward and recurrent). ``state`` is the agent's train state (a pytree that
    carries its config and :class:`EnvSpec` as static metadata).

    * ``init(key, spec, config) -> state``
    * ``act(state, obs [B, *obs_shape], noise | None, carry, episode_start [B]) ->
      (actions, extras, carry)``: ``noise`` (from ``sample_noise``, after ``explore``)
      makes an exploring action; ``None`` asks for the deterministic/greedy one.
      ``carry`` is the recurrent state of every env (``None`` for a feed-forward
      agent, which returns it unchanged); the agent resets it where ``episode_start``.
    * ``update(state, batch, key) -> (state, metrics)``: ``batch`` is a :class:`Rollout`
      (on-policy) or the replay buffer (off-policy); ``metrics`` maps names to scalars.
    * ``sample_noise(state, key, batch_shape) -> noise [*batch_shape, ...]``: the standard
      random draws behind exploring actions; a whole rollout's are drawn in one call.
    * ``init_exploration(state, num_envs) -> exploration`` and
      ``explore(state, exploration, noise [B, ...], episode_start [B]) -> (noise, exploration)``:
      the agent's own exploration process (OU noise, Gaussian scaling, epsilon schedules).
    * ``initial_carry(state, num_envs) -> carry | None``: fresh recurrent state.

    The host loop calls ``act`` and ``update`` as they are, with NumPy arrays: export them jitted
    (``update = jax.jit(_update)``), as jaxrl's agents do. The device loop traces them into its
    own program.
    """

    init: Callable[..., Any]
    act: Callable[..., tuple[jax.Array, Any, Any]]
    update: Callable[..., tuple[Any, dict[str, jax.Array]]]
    sample_noise: Callable[..., jax.Array]
    init_exploration: Callable[..., Any]
    explore: Callable[..., tuple[jax.Array, Any]]
    initial_carry: Callable[..., Any]
