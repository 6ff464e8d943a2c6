"""Environments written in JAX, stepped inside ``jit`` by the device loop.

The protocol is three pure functions of ONE env (the loops ``vmap`` them over envs):

* ``reset(key) -> (env_state, obs [*obs_shape])``
* ``step(env_state, action, keys) -> DeviceStep``: auto-resets inside. ``keys`` is two PRNG keys
  ``[2, ...]`` (:func:`step_keys`): the transition's and the reset's. Where an episode ends, ``obs``
  is the first observation of the next episode and ``next_obs`` the true final observation, so a
  truncated episode bootstraps from it (the same contract as the host adapter's ``HostStep``).
  ``truncated`` is the time limit and is never set together with ``terminated``.
* ``step_in_episode(env_state, action, key) -> DeviceStep``: the same step without the auto-reset
  (``obs`` is ``next_obs``, ``env_state`` the stepped state, also where the episode ended), for
  callers that stop or reset an env themselves at its episode's end: evaluation and the host loop's
  one-env adapter. Their programs then hold no reset: on a 2-core CPU brax's ant step compiles in
  5.4 s without it against 9.5 s with it, its inverted pendulum in 3.0 s against 5.5 s.

The step takes its two keys rather than splitting one: the loops draw the keys of a whole rollout in
one call. On XLA:CPU every threefry call is a rolled loop of ~50 small kernels, so a split per env
step was ~1/4 of a small env's step time (64 CartPoles: 0.98 -> 0.72 ms per 128 steps).

Backends plug in a *raw* step without auto-reset or time limit (:func:`with_autoreset` adds both,
and clips Box actions to their bounds as the host adapter does):

* gymnasium's functional JAX envs (``phys2d/CartPole-v1``, ``phys2d/Pendulum-v0``, any registered env
  whose ``unwrapped`` is a ``FunctionalJaxEnv``) — no extra dependency;
* the suites of :mod:`jaxrl.envs.suites`, one adapter module each, each an extra: gymnax
  (``gymnax/<id>``), brax (``brax/<name>``) and MuJoCo Playground (``playground/<EnvName>``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.core.flat_draws import flat_draw
from jaxrl.envs.atari import is_atari_id
from jaxrl.envs.spec import PRIVILEGED_SIZE_KEY, spec_from_spaces
from jaxrl.types import EnvSpec


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


def step_keys(key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
    """The ``keys`` argument of :attr:`DeviceEnv.step` for every env of ``batch_shape``:
    ``[*batch_shape, 2, ...]`` PRNG keys, drawn in one (flat, so quick to compile) call."""
    return flat_draw(jax.random.split, key, (*batch_shape, 2))


def transition_keys(key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
    """The ``key`` argument of :attr:`DeviceEnv.step_in_episode` for every env of ``batch_shape``:
    the transition keys :func:`step_keys` gives (the first of each pair), so stepping without the
    reset moves the envs as :attr:`DeviceEnv.step` would from the same ``key``."""
    return step_keys(key, batch_shape)[(slice(None),) * len(batch_shape) + (0,)]


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
    step: Callable[[TimedState, jax.Array, jax.Array], DeviceStep]  # (state, action, keys [2]) -> DeviceStep
    step_in_episode: Callable[[TimedState, jax.Array, jax.Array], DeviceStep]  # (state, action, key): no reset
    # One env's inner (backend) state -> an RGB frame [H, W, 3] uint8; None: the suite cannot render.
    render_frame: Callable[[Any], np.ndarray] | None = None


def with_autoreset(env_id: str, spec: EnvSpec, max_episode_steps: int, raw_reset: RawReset,
                   raw_step: RawStep, render_frame: Callable[[Any], np.ndarray] | None = None) -> DeviceEnv:
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

    def step_in_episode(state: TimedState, action: jax.Array, key: jax.Array) -> DeviceStep:
        # The backend steps a copy of the containers: brax's step updates the given state's metrics
        # dict in place, which would change the caller's state (evaluation keeps it for ended envs).
        fresh_containers = jax.tree.map(lambda leaf: leaf, state.inner)
        inner, next_obs, reward, terminated = raw_step(fresh_containers, env_action(action), key)
        # A backend may step to weakly typed leaves where its reset gave strong ones (brax's reward
        # and done): the state keeps its own types, or a jitted step fed its own output compiles twice.
        inner = jax.tree.map(lambda new, old: jnp.asarray(new, jnp.asarray(old).dtype), inner, state.inner)
        next_obs = jnp.asarray(next_obs, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        steps = state.steps + 1
        truncated = (steps >= max_episode_steps) & ~terminated
        return DeviceStep(TimedState(inner, steps), next_obs, jnp.asarray(reward, jnp.float32), terminated,
                          truncated, next_obs)

    def step(state: TimedState, action: jax.Array, keys: jax.Array) -> DeviceStep:
        return restart_where_ended(step_in_episode(state, action, keys[0]), *reset(keys[1]))

    return DeviceEnv(env_id, spec, int(max_episode_steps), reset, step, step_in_episode, render_frame)


def restart_where_ended(stepped: DeviceStep, start_state: TimedState, start_obs: jax.Array) -> DeviceStep:
    """The auto-reset of one env's :attr:`DeviceEnv.step_in_episode` output: where its episode ended,
    the env goes on from ``start_state`` and acts on ``start_obs`` (a fresh start, drawn by the caller),
    ``next_obs`` keeping the final observation."""
    ended = stepped.terminated | stepped.truncated
    env_state = jax.tree.map(lambda start, old: jnp.where(ended, start, old), start_state, stepped.env_state)
    return stepped._replace(env_state=env_state, obs=jnp.where(ended, start_obs, stepped.next_obs))


def step_envs(env: DeviceEnv, env_states: Any, actions: jax.Array, keys: jax.Array,
              starts: tuple[Any, jax.Array] | None = None) -> DeviceStep:
    """Step every env ``[B]`` with its keys of ``keys [B, 2]`` (:func:`step_keys`). ``starts``: each env's
    start state and observation ``[B, ...]`` for an episode that ends here, drawn by the caller; ``None``:
    the env's own auto-reset draws them, from the second key."""
    if starts is None:
        return jax.vmap(env.step)(env_states, actions, keys)
    return jax.vmap(restart_where_ended)(jax.vmap(env.step_in_episode)(env_states, actions, keys[:, 0]), *starts)


def traced_env(env_id: str, max_episode_steps: int, raw_reset: RawReset, raw_step: RawStep,
               action_space: gym.Space, render_frame: Callable[[Any], np.ndarray] | None = None,
               privileged_size: Callable[[Any], int] = lambda state: 0) -> DeviceEnv:
    """A suite's raw env as a :class:`DeviceEnv`: its observation shape read from what reset and step
    return (traced, nothing runs; not the declared space, which some envs get wrong), then
    :func:`with_autoreset`. A one-line ``ValueError`` naming the env where its code fails to trace
    or reset and step observe different shapes. ``privileged_size(state)``, of the traced reset
    state: trailing entries of the observation that only a critic may read
    (:attr:`EnvSpec.privileged_size`)."""
    key = jax.random.PRNGKey(0)
    action = jnp.zeros(action_space.shape, jnp.int32 if isinstance(action_space, gym.spaces.Discrete)
                       else jnp.float32)
    try:
        state, reset_obs = jax.eval_shape(raw_reset, key)
        step_obs = jax.eval_shape(raw_step, state, action, key)[1]
    except Exception as err:  # noqa: BLE001 - the env's own code failing to trace; said with its name
        raise ValueError(f"{env_id} does not run here: {type(err).__name__}: {err}") from None
    if reset_obs.shape != step_obs.shape:
        raise ValueError(f"{env_id} does not fit jaxrl: reset observations have shape {reset_obs.shape} "
                         f"but step observations {step_obs.shape}")
    observation_space = gym.spaces.Box(-np.inf, np.inf, tuple(int(d) for d in reset_obs.shape), np.float32)
    spec = dataclasses.replace(spec_from_spaces(observation_space, action_space),
                               privileged_size=privileged_size(state))
    return with_autoreset(env_id, spec, max_episode_steps, raw_reset, raw_step, render_frame)


def keep_observation_indices(env: DeviceEnv, env_id: str, indices: tuple[int, ...]) -> DeviceEnv:
    """``env`` observing only ``obs[indices]`` of its 1-D observations (a partially observable variant)."""
    keep = jnp.asarray(indices)

    def reset(key: jax.Array) -> tuple[TimedState, jax.Array]:
        state, obs = env.reset(key)
        return state, obs[keep]

    def observing_kept(out: DeviceStep) -> DeviceStep:
        return out._replace(obs=out.obs[keep], next_obs=out.next_obs[keep])

    def step(state: TimedState, action: jax.Array, keys: jax.Array) -> DeviceStep:
        return observing_kept(env.step(state, action, keys))

    def step_in_episode(state: TimedState, action: jax.Array, key: jax.Array) -> DeviceStep:
        return observing_kept(env.step_in_episode(state, action, key))

    spec = dataclasses.replace(env.spec, observation_shape=(len(indices),))
    return DeviceEnv(env_id, spec, env.max_episode_steps, reset, step, step_in_episode, env.render_frame)


def from_func_env(env_id: str, func_env: Any, max_episode_steps: int) -> DeviceEnv:
    """Adapter for a gymnasium ``FuncEnv``, calling it as gymnasium's ``FunctionalJaxEnv`` does
    (one key per step shared by transition, observation, reward and terminal, and one per reset
    shared by initial and observation)."""
    spec = spec_from_spaces(func_env.observation_space, func_env.action_space)

    def raw_reset(key: jax.Array) -> tuple[Any, jax.Array]:
        state = func_env.initial(key)
        return state, func_env.observation(state, key)

    def raw_step(state: Any, action: jax.Array, key: jax.Array):
        next_state = func_env.transition(state, action, key)
        obs = func_env.observation(next_state, key)
        reward = func_env.reward(state, action, next_state, key)
        return next_state, obs, reward, func_env.terminal(next_state, key)

    return with_autoreset(env_id, spec, max_episode_steps, raw_reset, raw_step)


# gymnasium's errors for an id it has no registration for (any other gymnasium error: it has one but
# could not build it here, e.g. Box2D missing)
UNKNOWN_ID_ERRORS = (gym.error.NameNotFound, gym.error.NamespaceNotFound, gym.error.VersionNotFound)


def functional_env_ids() -> list[str]:
    """gymnasium's registered functional JAX envs (``phys2d/...``), which the device loop runs as they are."""
    return sorted(env_id for env_id, env_spec in gym.registry.items()
                  if isinstance(env_spec.entry_point, str) and ".phys2d." in env_spec.entry_point)


def device_env_ids() -> list[str]:
    """The env ids the device loop can run here (a suite's ids only when it is installed)."""
    from jaxrl.envs.suites import suite_env_ids  # the suite modules import this one
    from jaxrl.envs.wrappers import NO_VELOCITY_DEVICE_BASES

    suite_ids = suite_env_ids()
    return (functional_env_ids() + suite_ids
            + [env_id for env_id, base in NO_VELOCITY_DEVICE_BASES.items() if base in suite_ids])


def ids_in_brief(env_ids: list[str]) -> str:
    """Env ids for a one-line message: a namespace's ids spelled out where few, counted where many."""
    by_namespace: dict[str, list[str]] = {}
    for env_id in env_ids:
        by_namespace.setdefault(env_id.split("/")[0] if "/" in env_id else "", []).append(env_id)
    parts = [", ".join(ids) if len(ids) <= 5 else f"{len(ids)} {namespace}/ ids"
             for namespace, ids in by_namespace.items()]
    return f"{', '.join(parts)} (`jaxrl envs` lists them all)"


class NotAJaxEnv(ValueError):
    """``env_id`` is a gymnasium env that only the host loop runs. Its message lists the device loop's ids,
    which imports every installed suite (brax, Playground: ~3 s), so it is built only when shown."""

    def __init__(self, env_id: str):
        super().__init__(env_id)
        self.env_id = env_id

    def __str__(self) -> str:
        where = self.device_ids()
        return f"{self.env_id!r} is not a JAX environment, so it runs only in the host loop (--loop host); {where}"

    def device_ids(self) -> str:
        """Where the device loop can run this task: the id's JAX ports, or else the JAX ids in brief."""
        ids = device_env_ids()
        ports = [env_id for env_id in ids if env_id.split("/", 1)[-1] == self.env_id]  # gymnax/Acrobot-v1
        return (f"its JAX port{'s' * (len(ports) > 1)} for the device loop: {', '.join(ports)}" if ports
                else f"JAX env ids for the device loop: {ids_in_brief(ids)}")


def make_device_env(env_id: str) -> DeviceEnv:
    """The :class:`DeviceEnv` for ``env_id``; ``ValueError`` naming the JAX env ids otherwise. Built once
    per id in a process (while the ``JAXRL_*`` variables that pick a suite's backend stay
    the same): a suite env's model loads and its reset and step trace to read the observation shape,
    and ``jaxrl eval`` or a device run that evaluates asks for the same env twice (the agent's spec,
    then the episodes). For brax's inverted pendulum that second build cost ~0.5 s of ``jaxrl eval``
    on a CPU (JAX's own caches already spare most of its tracing)."""
    return _device_env_once(env_id, tuple(sorted((name, value) for name, value in os.environ.items()
                                                 if name.startswith("JAXRL_"))))


@functools.lru_cache(maxsize=16)
def _device_env_once(env_id: str, jaxrl_variables: tuple[tuple[str, str], ...]) -> DeviceEnv:
    del jaxrl_variables  # only part of the cache key
    return _build_device_env(env_id)


def forget_built_envs() -> None:
    """Build every env anew at its next :func:`make_device_env` (for tests that fake a suite's import)."""
    _device_env_once.cache_clear()
    _jitted.cache_clear()


def _build_device_env(env_id: str) -> DeviceEnv:
    from jaxrl.envs.suites import suite_for
    from jaxrl.envs.wrappers import NO_VELOCITY_DEVICE_BASES, NO_VELOCITY_ENVS

    suite = suite_for(env_id)
    if suite is not None:
        return suite.make(env_id)
    if env_id in NO_VELOCITY_DEVICE_BASES:
        base_id = NO_VELOCITY_DEVICE_BASES[env_id]
        try:
            base = make_device_env(base_id)
        except ValueError as err:  # e.g. the base's suite is missing: say which id the user asked for
            raise ValueError(f"{env_id!r} runs in the device loop on {base_id!r} (the host loop needs no "
                             f"extra): {err}") from None
        return keep_observation_indices(base, env_id, NO_VELOCITY_ENVS[env_id][1])
    try:
        env = gym.make(env_id, disable_env_checker=True)
    except gym.error.Error as err:
        # a registered env that cannot be built here (Box2D missing), or an Atari game (ale_py not imported)
        if not isinstance(err, UNKNOWN_ID_ERRORS) or is_atari_id(env_id):
            raise NotAJaxEnv(env_id) from None
        raise ValueError(f"unknown environment id {env_id!r} ({err}); JAX env ids for the device loop: "
                         f"{ids_in_brief(device_env_ids())}") from None
    try:
        func_env = getattr(env.unwrapped, "func_env", None)
        max_steps = env.spec.max_episode_steps if env.spec is not None else None
    finally:
        env.close()
    if func_env is None:
        raise NotAJaxEnv(env_id)
    if max_steps is None:
        raise ValueError(f"{env_id!r} has no max_episode_steps; register it with a time limit for the device loop")
    return from_func_env(env_id, func_env, max_steps)


def _jitted_device_env(env_id: str) -> tuple[DeviceEnv, Callable, Callable]:
    """One env and one jitted reset/step per id in a process (per :func:`make_device_env`'s env, so
    a changed ``JAXRL_*`` backend variable gets its own): the envs of a host vector env (and the
    evaluation env) share them, so a brax or MJX step compiles once, not once per env."""
    return _jitted(make_device_env(env_id))


@functools.lru_cache(maxsize=16)
def _jitted(env: DeviceEnv) -> tuple[DeviceEnv, Callable, Callable]:
    # gymnasium's vector env resets an ended episode itself, so the step holds no reset; its
    # transition key is the auto-resetting step's, so host runs keep their trajectories
    return env, jax.jit(env.reset), jax.jit(lambda state, action, key: env.step_in_episode(state, action,
                                                                                           transition_keys(key)))


class DeviceEnvAsGym(gym.Env):
    """A :class:`DeviceEnv` as a one-env gymnasium ``Env``, so JAX-only ids (``gymnax/...``,
    ``brax/...``, ``playground/...``) also run in the host loop. Its time limit is the device
    env's own (``truncated``); ``rgb_array`` rendering where the suite renders (MuJoCo-based ones)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, env_id: str, render_mode: str | None = None):
        self.device_env, self._reset, self._step = _jitted_device_env(env_id)
        if render_mode is not None and self.device_env.render_frame is None:
            raise ValueError(f"{env_id} cannot render {render_mode!r}: this suite has no renderer here; "
                             "evaluate it without --render or --video")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"{env_id} cannot render {render_mode!r}: only rgb_array frames (eval --video), "
                             "no window; evaluate it without --render")
        self.render_mode = render_mode
        spec = self.device_env.spec
        # per instance: vector envs write into their first env's metadata
        self.metadata = {**self.metadata, PRIVILEGED_SIZE_KEY: spec.privileged_size}
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, spec.observation_shape, np.float32)
        if spec.action_nvec:
            self.action_space = gym.spaces.MultiDiscrete(spec.action_nvec)
        elif spec.discrete:
            self.action_space = gym.spaces.Discrete(spec.action_dim)
        else:
            self.action_space = gym.spaces.Box(np.asarray(spec.action_low, np.float32),
                                               np.asarray(spec.action_high, np.float32), dtype=np.float32)
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
        self._state = out.env_state  # not reset where the episode ended: gymnasium calls reset
        return np.asarray(out.next_obs), float(out.reward), bool(out.terminated), bool(out.truncated), {}

    def render(self):
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        return np.asarray(self.device_env.render_frame(self._state.inner))  # the last step's, the final one too


def register_host_id(env_id: str) -> None:
    """Make a suite id (``gymnax/...``, ``brax/...``, ``playground/...``) known to gymnasium
    (through :class:`DeviceEnvAsGym`)."""
    from jaxrl.envs.suites import suite_for

    if env_id not in gym.registry and suite_for(env_id) is not None:
        gym.register(id=env_id, entry_point=lambda **kwargs: DeviceEnvAsGym(env_id, **kwargs),
                     disable_env_checker=True)
