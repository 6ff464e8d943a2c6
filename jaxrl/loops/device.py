"""The device loop: a whole training run as nested ``lax.scan``s inside one ``jit``.

``make_train(algorithm, config) -> train(key, hparams=None) -> DeviceTrainResult``.
The env is a :class:`~jaxrl.envs.device.DeviceEnv` vmapped over ``num_envs``; exploring,
acting and learning are the agent's own contract functions (those the host loop calls), so
nothing about an algorithm is written twice. Because ``train`` is pure,

* ``jax.jit(jax.vmap(train))(keys)`` trains one run per key, and
* ``jax.vmap(train)(keys, {"learning_rate": lrs})`` sweeps any field the agent's config
  declares with :func:`jaxrl.config.hparam` (``state.hparams``).

With a ``mesh`` (:func:`jaxrl.distributed.env_mesh`), the env axis of the env states, observations and
rollout is sharded over the mesh's devices and everything else (parameters,
optimizer state, replay buffer) is replicated; XLA partitions the program and
inserts the gradient all-reduces, so the result is the single-device result up to
floating-point summation order. The mesh may span processes.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jaxrl.agents.registry import OFF_POLICY, get_algorithm
from jaxrl.config import unset_structural_fields
from jaxrl.core.platform import count_equations, matmul_precision, scan_unroll
from jaxrl.core.sequence_replay import SequenceReplay, sequence_add, sequence_init
from jaxrl.distributed import check_divisible, shard_env_axis
from jaxrl.envs.device import DeviceEnv, make_device_env, step_envs, step_keys
from jaxrl.envs.spec import uniform_actions
from jaxrl.loops.acting import example_transition, explore_and_act
from jaxrl.loops.episodes import EpisodeStats
from jaxrl.loops.schedules import off_policy_records, step_schedule
from jaxrl.types import Agent, Rollout, Transition

Train = Callable[..., "DeviceTrainResult"]


class DeviceTrainResult(NamedTuple):
    """What ``train`` returns; add a leading axis per ``vmap``."""

    state: Any  # the agent's final train state
    metrics: dict[str, jax.Array]  # [num_updates] (on-policy) or [num_records] (off-policy) per name


def over_seeds(function: Callable[..., Any], num_seeds: int) -> Callable[..., Any]:
    """``function`` of one seed's first argument (a carry or a key) mapped over a leading seed axis;
    its other arguments are shared. One seed runs unbatched (the axis is dropped and added back):
    ``vmap`` over a single seed made PQN's program 2.2x slower on XLA:CPU (batched gathers)."""
    def seeds_mapped(first: Any, *shared: Any) -> Any:
        if num_seeds > 1:
            return jax.vmap(lambda one: function(one, *shared))(first)
        out = function(jax.tree.map(lambda leaf: leaf[0], first), *shared)
        return jax.tree.map(lambda leaf: leaf[None], out)

    return seeds_mapped


class DeviceProgram(NamedTuple):
    """A device-loop run as pure pieces, so it can stop after any iteration and resume exactly.

    ``run(init(key, hparams), jnp.arange(num_iterations))`` is the whole run; running
    ``jnp.arange(0, k)`` and then ``jnp.arange(k, num_iterations)`` on the carry it returns
    is the same run. The carry holds everything (train state, env states, keys, replay
    buffer, episode statistics), so saving it is a complete checkpoint.
    """

    init: Callable[..., Any]  # (key, hparams=None) -> carry
    step: Callable[[Any, jax.Array], tuple[Any, dict[str, jax.Array]]]  # (carry, index) -> carry, metrics
    num_iterations: int  # updates (on-policy) or metrics records (off-policy)
    unit: str  # "update" or "record": what one iteration is
    steps_per_iteration: int  # env steps (per seed) one iteration takes

    def run(self, carry: Any, indices: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        """Iterations ``indices [n]`` in one ``lax.scan``: the carry after them and their metrics ``[n]``."""
        return jax.lax.scan(self.step, carry, indices)

    def run_padded(self, carry: Any, indices: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        """:meth:`run`, where indices ``>= num_iterations`` leave the carry as it is (NaN metrics): a
        run split into pieces of one length compiles one piece, also when the last one is shorter."""
        # jit's trace cache: the shapes' trace below is the one the scan's call reuses (traced twice,
        # a step with a physics env took twice as long to trace)
        step = jax.jit(self.step)
        skipped = jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype) if jnp.issubdtype(s.dtype, jnp.floating)
                               else jnp.zeros(s.shape, s.dtype), jax.eval_shape(step, carry, indices[0])[1])

        def step_or_skip(carry, index):
            return jax.lax.cond(index < self.num_iterations, step, lambda carry, _: (carry, skipped), carry, index)

        return jax.lax.scan(step_or_skip, carry, indices)


def program_to_train(program: DeviceProgram) -> Train:
    """``train(key, hparams=None) -> DeviceTrainResult``: the whole run in one scan."""

    def train(key: jax.Array, hparams: dict[str, Any] | None = None) -> DeviceTrainResult:
        carry, metrics = program.run(program.init(key, hparams), jnp.arange(program.num_iterations))
        return DeviceTrainResult(carry.state, metrics)

    return train


def with_hparams(state: Any, hparams: dict[str, Any] | None) -> Any:
    """``state`` with some ``state.hparams`` replaced (a sweep's values); ``ValueError`` naming unknown ones."""
    if not hparams:
        return state
    unknown = sorted(set(hparams) - set(state.hparams))
    if unknown:
        raise ValueError(f"unknown hyper-parameters {unknown}; vmappable: {sorted(state.hparams)}")
    unset = unset_structural_fields(state.config, sorted(hparams)) if hasattr(state, "config") else []
    if unset:  # its values would be read by no part of the program
        raise ValueError(f"hyper-parameters {unset} are None in the config, which builds the program without "
                         "them; give them a value in the config to vmap over them")
    return state.replace(hparams={**state.hparams, **{k: jnp.asarray(v, jnp.float32) for k, v in hparams.items()}})


class Actor(NamedTuple):
    """What the loop carries between env steps (``[B, ...]`` each)."""

    env_state: Any
    obs: jax.Array
    carry: Any  # the agent's recurrent carry (None: feed-forward)
    episode_start: jax.Array  # bool: obs starts an episode
    exploration: Any  # the agent's exploration state (None where it keeps none)
    stats: EpisodeStats


def init_actor(agent: Agent, state: Any, env: DeviceEnv, key: jax.Array, num_envs: int, mesh: Mesh | None) -> Actor:
    """Every env reset, its episode starting; each field split over ``mesh``'s env axis as the steps
    leave it (a run in pieces feeds one piece's actor to the program compiled for the first's)."""
    env_state, obs = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    stats = EpisodeStats.zeros(num_envs)
    per_env = shard_env_axis((env_state, obs, agent.initial_carry(state, num_envs), jnp.ones(num_envs, bool),
                              agent.init_exploration(state, num_envs), stats.returns, stats.lengths), mesh)
    env_state, obs, carry, episode_start, exploration, returns, lengths = per_env
    return Actor(env_state, obs, carry, episode_start, exploration, stats._replace(returns=returns, lengths=lengths))


def step_actor(env: DeviceEnv, actor: Actor, actions: jax.Array, carry: Any, exploration: Any, env_keys: jax.Array,
               mesh: Mesh | None, starts: tuple[Any, jax.Array] | None = None) -> tuple[Actor, Any]:
    """Step every env with ``actions`` and its keys of ``env_keys [B, 2]`` (:func:`step_keys`);
    returns the next actor and the env's step ``[B]``. ``starts``: as :func:`~jaxrl.envs.device.step_envs`."""
    step = shard_env_axis(step_envs(env, actor.env_state, actions, env_keys, starts), mesh)
    done = step.terminated | step.truncated
    return Actor(step.env_state, step.obs, carry, done, exploration, actor.stats.step(step.reward, done)), step


class OnPolicyCarry(NamedTuple):
    state: Any  # the agent's train state
    actor: Actor
    key: jax.Array  # the run's key; update i uses fold_in(key, i)


class OffPolicyCarry(NamedTuple):
    state: Any  # the agent's train state
    buffer: Any  # the replay buffer
    actor: Actor
    key: jax.Array  # split once per env step


# env -> its step's equation count: counting traces the step once more (one env, outside the program),
# and a physics step takes ~0.4-1.2 s to trace, so each env is counted once
_STEP_EQUATIONS: weakref.WeakKeyDictionary[DeviceEnv, int] = weakref.WeakKeyDictionary()


def env_step_equations(env: DeviceEnv, env_states: Any, step_keys: jax.Array) -> int:
    """Jaxpr equations of one env's step (:func:`~jaxrl.core.platform.count_equations`), from the
    shapes of a batch of env states ``[B, ...]`` and its step keys ``[B, ...]``, counted once per env;
    0 on XLA:CPU, where :func:`~jaxrl.core.platform.scan_unroll` does not read it (no second trace of
    the env there)."""
    if jax.default_backend() == "cpu":
        return 0
    if env not in _STEP_EQUATIONS:
        _STEP_EQUATIONS[env] = _count_step_equations(env, env_states, step_keys)
    return _STEP_EQUATIONS[env]


def _count_step_equations(env: DeviceEnv, env_states: Any, step_keys: jax.Array) -> int:
    one_env = lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype)  # noqa: E731
    spec = env.spec
    action = jax.ShapeDtypeStruct(spec.action_shape, jnp.int32 if spec.discrete else jnp.float32)
    jaxpr = jax.make_jaxpr(env.step)(jax.tree.map(one_env, env_states), action, one_env(step_keys))
    return count_equations(jaxpr.jaxpr)


def scan_rollout(agent: Agent, env: DeviceEnv, state: Any, actor: Actor, noise: Any, env_keys: jax.Array,
                 mesh: Mesh | None = None, fresh_starts: str = "step") -> tuple[Actor, Rollout]:
    """The acting scan of an on-policy iteration: ``T`` steps of every env acting with ``state``.

    ``noise``: the agent's ``[T, B, ...]``; ``env_keys [T, B, 2]`` (:func:`step_keys`). Returns the
    next actor and the :class:`Rollout` ``[T, B]`` (mask all ones). ``fresh_starts``
    (:attr:`~jaxrl.config.RunConfig.fresh_starts`): ``"rollout"`` draws each env's start state
    once, before the scan, from the key its first step's reset would take, so the scan runs no reset."""
    starts = None
    if fresh_starts == "rollout":
        starts = shard_env_axis(jax.vmap(env.reset)(env_keys[0, :, 1]), mesh)

    def env_step(actor: Actor, inputs):
        noise, step_key = inputs
        actions, extras, carry, exploration = explore_and_act(agent, state, actor.obs, noise, actor.carry,
                                                              actor.episode_start, actor.exploration)
        next_actor, step = step_actor(env, actor, actions, carry, exploration, step_key, mesh, starts)
        transition = Transition(obs=actor.obs, actions=actions, rewards=step.reward, terminated=step.terminated,
                                truncated=step.truncated, next_obs=step.next_obs, extras=extras)
        return next_actor, transition

    unroll = scan_unroll(env_step_equations(env, actor.env_state, env_keys[0]))
    actor, transitions = jax.lax.scan(env_step, actor, (noise, env_keys), unroll=unroll)
    transitions = shard_env_axis(transitions, mesh, env_axis=1)
    rollout = Rollout(obs=transitions.obs, actions=transitions.actions, rewards=transitions.rewards,
                      terminated=transitions.terminated, truncated=transitions.truncated,
                      next_obs=transitions.next_obs, extras=transitions.extras,
                      mask=jnp.ones(transitions.rewards.shape, jnp.float32))
    return actor, rollout


def make_on_policy_program(agent: Agent, config: Any, env: DeviceEnv, mesh: Mesh | None = None) -> DeviceProgram:
    """``num_updates`` x (``num_steps`` env steps, one ``update`` on the :class:`Rollout`). Update
    ``i`` draws its keys from ``fold_in(key, i)``, so any split of the updates into pieces gives
    the same run."""
    config.validate()
    check_divisible(config.num_envs, mesh)
    num_envs, num_steps = config.num_envs, config.num_steps

    def update_step(carry: OnPolicyCarry, update_index: jax.Array):
        state, actor, base_key = carry
        noise_key, steps_key, update_key = jax.random.split(jax.random.fold_in(base_key, update_index), 3)
        noise = agent.sample_noise(state, noise_key, (num_steps, num_envs))
        # Every env's keys of every step in one call (a threefry call per step is slow on XLA:CPU).
        env_keys = step_keys(steps_key, (num_steps, num_envs))
        actor, rollout = scan_rollout(agent, env, state, actor, noise, env_keys, mesh, config.fresh_starts)
        state, metrics = agent.update(state, rollout, update_key)
        metrics = {**metrics, **actor.stats.metrics(), "env_steps": (update_index + 1) * config.batch_size}
        return OnPolicyCarry(state, actor, base_key), metrics

    def init(key: jax.Array, hparams: dict[str, Any] | None = None) -> OnPolicyCarry:
        key, init_key, reset_key = jax.random.split(key, 3)
        state = with_hparams(agent.init(init_key, env.spec, config), hparams)
        return OnPolicyCarry(state, init_actor(agent, state, env, reset_key, num_envs, mesh), key)

    return DeviceProgram(init, update_step, config.num_updates, "update", config.batch_size)


def make_off_policy_program(agent: Agent, config: Any, env: DeviceEnv, mesh: Mesh | None = None) -> DeviceProgram:
    """The host loop's off-policy schedule (:func:`~jaxrl.loops.schedules.step_schedule`): uniform
    random actions for the first ``learning_starts`` env steps, then the agent's exploring actions;
    every step adds ``num_envs`` transitions; every ``train_frequency`` steps past ``learning_starts``
    one ``update``. Metrics are averaged over each ``log_every`` env steps (NaN: no update in the
    record, ``updates`` == 0). ``config.fresh_starts == "rollout"`` draws each env's start state once
    per record, where ``"step"`` lets the env's auto-reset draw one at every step."""
    config.validate()
    check_divisible(config.num_envs, mesh)
    spec, num_envs = env.spec, config.num_envs
    record_iterations, num_records = off_policy_records(config)

    def env_step(starts: tuple[Any, jax.Array] | None, carry: OffPolicyCarry, iteration: jax.Array):
        state, buffer, actor, key = carry
        key, noise_key, random_key, step_key, update_key = jax.random.split(key, 5)
        noise = agent.sample_noise(state, noise_key, (num_envs,))
        policy_actions, extras, carry, exploration = explore_and_act(agent, state, actor.obs, noise, actor.carry,
                                                                     actor.episode_start, actor.exploration)
        acting, learning = step_schedule(iteration, num_envs, config)
        actions = jnp.where(acting, policy_actions, uniform_actions(spec, random_key, num_envs))
        extras = jax.tree.map(lambda x: jnp.where(acting, x, jnp.zeros_like(x)), extras)
        next_actor, step = step_actor(env, actor, actions, carry, exploration,
                                      step_keys(step_key, (num_envs,)), mesh, starts)
        buffer = sequence_add(buffer, Transition(obs=actor.obs, actions=actions, rewards=step.reward,
                                                 terminated=step.terminated, truncated=step.truncated,
                                                 next_obs=step.next_obs, extras=extras))
        no_update = jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype),
                                 jax.eval_shape(agent.update, state, buffer, update_key)[1])
        state, metrics = jax.lax.cond(learning, lambda: agent.update(state, buffer, update_key),
                                      lambda: (state, no_update))
        return OffPolicyCarry(state, buffer, next_actor, key), (metrics, learning)

    def record_step(carry: OffPolicyCarry, record_index: jax.Array):
        iterations = record_index * record_iterations + jnp.arange(record_iterations)
        starts = None
        if config.fresh_starts == "rollout":  # each env's start for the record, from a key of the run's own
            key, starts_key = jax.random.split(carry.key)
            starts = shard_env_axis(jax.vmap(env.reset)(jax.random.split(starts_key, num_envs)), mesh)
            carry = carry._replace(key=key)
        carry, (metrics, learning) = jax.lax.scan(functools.partial(env_step, starts), carry, iterations)
        return carry, {**jax.tree.map(jnp.nanmean, metrics), **carry.actor.stats.metrics(),
                       "updates": jnp.sum(learning), "env_steps": (record_index + 1) * record_iterations * num_envs}

    def init(key: jax.Array, hparams: dict[str, Any] | None = None) -> OffPolicyCarry:
        key, init_key, reset_key = jax.random.split(key, 3)
        state = with_hparams(agent.init(init_key, spec, config), hparams)
        actor = init_actor(agent, state, env, reset_key, num_envs, mesh)
        example = example_transition(agent, state, actor.obs, actor.carry, actor.exploration)
        buffer = shard_replay(sequence_init(config.buffer_size, example, config.n_step), mesh)
        return OffPolicyCarry(state, buffer, actor, key)

    return DeviceProgram(init, record_step, num_records, "record", record_iterations * num_envs)


def shard_replay(buffer: SequenceReplay, mesh: Mesh | None) -> SequenceReplay:
    """``buffer`` with each device keeping its own envs' rows (``[T, E, ...]`` leaves split on ``E``) and
    counters: memory per device falls with the device count, and an add writes locally. A sample
    gathers its batch across devices."""
    rows = {name: shard_env_axis(getattr(buffer, name), mesh, env_axis=1) for name in ("steps", "ends", "is_step")}
    per_env = {name: shard_env_axis(getattr(buffer, name), mesh) for name in ("cursor", "filled", "pending", "open")}
    return buffer.replace(**rows, **per_env)


def make_program(algorithm: str, config: Any, mesh: Mesh | None = None) -> DeviceProgram:
    """The resumable :class:`DeviceProgram` for ``algorithm`` on ``config.env`` (a JAX env id, see
    :func:`jaxrl.envs.device.device_env_ids`)."""
    if config.env_kwargs:  # a JAX env's parameters come with its id
        raise ValueError(f"env_kwargs {list(config.env_kwargs)} apply to gymnasium envs in the host loop; the device "
                         f"loop's JAX env {config.env!r} takes none")
    if config.capture_video:
        raise ValueError("capture_video records the host loop's gymnasium env; a device-loop run's agent is "
                         f"filmed after training: jaxrl eval RUN_DIR/seed_{config.seed} --video episode.gif")
    entry = get_algorithm(algorithm)
    builder = make_off_policy_program if entry.schedule == OFF_POLICY else make_on_policy_program
    return at_matmul_precision(builder(entry.agent_for(config), config, make_device_env(config.env), mesh),
                               config.matmul_precision)


def at_matmul_precision(program: DeviceProgram, precision: str) -> DeviceProgram:
    """``program`` whose pieces trace their matrix products at ``precision`` (see
    :func:`jaxrl.core.platform.matmul_precision`), wherever they are traced (one run, sweeps, ``make_train``)."""
    if precision == "default":
        return program

    def init(*args: Any) -> Any:
        with matmul_precision(precision):
            return program.init(*args)

    def step(carry: Any, index: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        with matmul_precision(precision):
            return program.step(carry, index)

    return program._replace(init=init, step=step)


def make_train(algorithm: str, config: Any, mesh: Mesh | None = None) -> Train:
    """The pure ``train(key, hparams=None) -> DeviceTrainResult`` for ``algorithm`` on ``config.env``:
    the whole run as one scan (see :func:`make_program` for the pieces)."""
    return program_to_train(make_program(algorithm, config, mesh))
