"""Environments written in JAX, stepped inside ``jit`` by the device loop.

The protocol is two pure functions of ONE env (the loops ``vmap`` them over envs):

* ``reset(key) -> (env_state, obs [*obs_shape])``
* ``step(env_state, action, key) -> DeviceStep``: auto-resets inside. Where an
  episode ends, ``obs`` is the first observation of the next episode and
  ``next_obs`` the true final observation, so a truncated episode bootstraps from
  it (the same contract as the host adapter's ``HostStep``). ``truncated`` is the
  time limit and is never set together with ``terminated``.

Backends plug in a *raw* step without auto-reset or time limit (:func:`with_autoreset`
adds both, and clips Box actions to their bounds as the host adapter does):

* gymnasium's functional JAX envs (``phys2d/CartPole-v1``, ``phys2d/Pendulum-v0``, any
  registered env whose ``unwrapped`` is a ``FunctionalJaxEnv``) — no extra dependency;
* gymnax (``gymnax/<id>``, extra ``gymnax``): :mod:`jaxrl.envs.gymnax_suite`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.spec import spec_from_spaces
from jaxrl.types import EnvSpec

GYMNAX_PREFIX = "gymnax/"


class DeviceStep(NamedTuple):
    """One env step inside jit (one env; ``[B, ...]`` once vmapped)."""

    env_state: Any  # the state to step next (after any auto-reset)
    obs: jax.Array  # float32 [*obs_shape]: observation to act on next
    reward: jax.Array  # float32 []
    terminated: jax.Array  # bool []: the episode ended in a terminal state (no bootstrap)
    truncated: jax.Array  # bool []: the time limit cut the episode (bootstrap from next_obs)
    next_obs: jax.Array  # float32 [*obs_shape]: true next observation of this step


class TimedState(NamedTuple):
    """A backend's env state plus the step counter the time limit reads."""

    inner: Any
    steps: jax.Array  # int32 []: steps taken in the current episode


RawReset = Callable[[jax.Array], tuple[Any, jax.Array]]
# (state, action, key) -> (next_state, obs, reward, terminated); no auto-reset, no time limit.
RawStep = Callable[[Any, jax.Array, jax.Array], tuple[Any, jax.Array, jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True, eq=False)
class DeviceEnv:
    """A JAX env: ``reset`` and ``step`` as above, with its spec and time limit."""

    env_id: str
    spec: EnvSpec
    max_episode_steps: int
    reset: Callable[[jax.Array], tuple[TimedState, jax.Array]]
    step: Callable[[TimedState, jax.Array, jax.Array], DeviceStep]


def with_autoreset(env_id: str, spec: EnvSpec, max_episode_steps: int, raw_reset: RawReset,
                   raw_step: RawStep) -> DeviceEnv:
    """Wrap a raw backend into the protocol: time limit, auto-reset, final observation."""
    if max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps} for {env_id!r}")

    def reset(key: jax.Array) -> tuple[TimedState, jax.Array]:
        inner, obs = raw_reset(key)
        return TimedState(inner, jnp.zeros((), jnp.int32)), jnp.asarray(obs, jnp.float32)

    def env_action(action: jax.Array) -> jax.Array:
        if spec.discrete:
            return action.astype(jnp.int32)
        return jnp.clip(action, jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32))

    def step(state: TimedState, action: jax.Array, key: jax.Array) -> DeviceStep:
        step_key, reset_key = jax.random.split(key)
        inner, next_obs, reward, terminated = raw_step(state.inner, env_action(action), step_key)
        next_obs = jnp.asarray(next_obs, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        steps = state.steps + 1
        truncated = (steps >= max_episode_steps) & ~terminated
        done = terminated | truncated
        reset_state, reset_obs = reset(reset_key)
        continued = TimedState(inner, steps)
        env_state = jax.tree.map(lambda fresh, old: jnp.where(done, fresh, old), reset_state, continued)
        obs = jnp.where(done, reset_obs, next_obs)
        return DeviceStep(env_state, obs, jnp.asarray(reward, jnp.float32), terminated, truncated, next_obs)

    return DeviceEnv(env_id, spec, int(max_episode_steps), reset, step)


def from_func_env(env_id: str, func_env: Any, max_episode_steps: int) -> DeviceEnv:
    """Adapter for a gymnasium ``FuncEnv``, calling it as gymnasium's ``FunctionalJaxEnv`` does
    (one key per step shared by transition, observation, reward and terminal)."""
    spec = spec_from_spaces(func_env.observation_space, func_env.action_space)

    def raw_reset(key: jax.Array) -> tuple[Any, jax.Array]:
        init_key, obs_key = jax.random.split(key)
        state = func_env.initial(init_key)
        return state, func_env.observation(state, obs_key)

    def raw_step(state: Any, action: jax.Array, key: jax.Array):
        next_state = func_env.transition(state, action, key)
        obs = func_env.observation(next_state, key)
        reward = func_env.reward(state, action, next_state, key)
        return next_state, obs, reward, func_env.terminal(next_state, key)

    return with_autoreset(env_id, spec, max_episode_steps, raw_reset, raw_step)


def _functional_env_ids() -> list[str]:
    return sorted(env_id for env_id, env_spec in gym.registry.items()
                  if isinstance(env_spec.entry_point, str) and ".phys2d." in env_spec.entry_point)


def device_env_ids() -> list[str]:
    """The env ids the device loop can run here (a suite's ids only when it is installed)."""
    from jaxrl.envs import gymnax_suite

    return _functional_env_ids() + [GYMNAX_PREFIX + name for name in gymnax_suite.gymnax_names()]


def make_device_env(env_id: str) -> DeviceEnv:
    """The :class:`DeviceEnv` for ``env_id``; ``ValueError`` naming the JAX env ids otherwise."""
    if env_id.startswith(GYMNAX_PREFIX):
        from jaxrl.envs.gymnax_suite import from_gymnax  # the suite module imports this one

        return from_gymnax(env_id)
    try:
        env = gym.make(env_id, disable_env_checker=True)
    except gym.error.Error as err:
        raise ValueError(f"unknown environment id {env_id!r} ({err}); JAX env ids for the device loop: "
                         f"{', '.join(device_env_ids())}") from None
    try:
        func_env = getattr(env.unwrapped, "func_env", None)
        max_steps = env.spec.max_episode_steps if env.spec is not None else None
    finally:
        env.close()
    if func_env is None:
        raise ValueError(f"{env_id!r} is not a JAX environment, so it runs only in the host loop "
                         f"(--loop host); JAX env ids for the device loop: {', '.join(device_env_ids())}")
    if max_steps is None:
        raise ValueError(f"{env_id!r} has no max_episode_steps; register it with a time limit for the device loop")
    return from_func_env(env_id, func_env, max_steps)


class DeviceEnvAsGym(gym.Env):
    """A :class:`DeviceEnv` as a one-env gymnasium ``Env``, so JAX-only ids (``gymnax/...``) also
    run in the host loop. Its time limit is the device env's own (``truncated``)."""

    metadata = {"render_modes": []}

    def __init__(self, env_id: str, render_mode: str | None = None):
        if render_mode is not None:
            raise ValueError(f"{env_id} cannot render: JAX-only envs have no {render_mode!r} renderer here; "
                             "evaluate it without --video or --render")
        self.device_env = make_device_env(env_id)
        spec = self.device_env.spec
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, spec.observation_shape, np.float32)
        if spec.discrete:
            self.action_space = gym.spaces.Discrete(spec.action_dim)
        else:
            self.action_space = gym.spaces.Box(np.asarray(spec.action_low, np.float32),
                                               np.asarray(spec.action_high, np.float32), dtype=np.float32)
        self._reset, self._step = jax.jit(self.device_env.reset), jax.jit(self.device_env.step)
        self._key, self._state = jax.random.PRNGKey(0), None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self._key, reset_key = jax.random.split(self._key)
        self._state, obs = self._reset(reset_key)
        return np.asarray(obs), {}

    def step(self, action):
        self._key, step_key = jax.random.split(self._key)
        out = self._step(self._state, jnp.asarray(action), step_key)
        self._state = out.env_state
        return np.asarray(out.next_obs), float(out.reward), bool(out.terminated), bool(out.truncated), {}


def register_host_id(env_id: str) -> None:
    """Make a ``gymnax/...`` id known to gymnasium (through :class:`DeviceEnvAsGym`)."""
    if env_id.startswith(GYMNAX_PREFIX) and env_id not in gym.registry:
        gym.register(id=env_id, entry_point=lambda **kwargs: DeviceEnvAsGym(env_id, **kwargs),
                     disable_env_checker=True)
