"""Acting: the agent's exploration and policy as one step, and the host loop's rollout.

:func:`explore_and_act` is what both loops call per env step. :func:`collect_rollout` is the
host loop's on-policy collection (public: ``jaxrl bench`` times it): one jitted call per
vector-env step, only the actions come back to the host, everything else the agent returned
stays on the device and is stacked into the :class:`~jaxrl.types.Rollout`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.host import HostVectorEnv
from jaxrl.loops.episodes import EpisodeTracker
from jaxrl.types import Agent, Rollout, Transition


def explore_and_act(agent: Agent, state: Any, obs: jax.Array, noise: jax.Array, carry: Any,
                    episode_start: jax.Array, exploration: Any) -> tuple[jax.Array, Any, Any, Any]:
    """One exploring step for ``obs [B, ...]``: the agent turns its standard ``noise`` into acting
    noise (advancing its exploration state), then acts. Returns ``(actions, extras, carry, exploration)``."""
    noise, exploration = agent.explore(state, exploration, noise, episode_start)
    actions, extras, carry = agent.act(state, obs, noise, carry, episode_start)
    return actions, extras, carry, exploration


def example_transition(agent: Agent, state: Any, obs: Any, carry: Any, exploration: Any) -> Transition:
    """Shapes and dtypes (``jax.ShapeDtypeStruct``) of one vector step's transitions ``[B, ...]`` for
    observations like ``obs [B, ...]``: the replay buffer's template, with the agent's action type
    and whatever ``extras`` its ``act`` returns."""
    def one_step(state: Any, obs: jax.Array, carry: Any, exploration: Any) -> Transition:
        num_envs = obs.shape[0]
        noise = agent.sample_noise(state, jax.random.PRNGKey(0), (num_envs,))
        flags = jnp.ones(num_envs, bool)
        actions, extras, _, _ = explore_and_act(agent, state, obs, noise, carry, flags, exploration)
        return Transition(obs=obs, actions=actions, rewards=jnp.zeros(num_envs, jnp.float32), terminated=flags,
                          truncated=flags, next_obs=obs, extras=extras)

    return jax.eval_shape(one_step, state, obs, carry, exploration)


@functools.cache
def jitted_explore_and_act(agent: Agent) -> Callable[..., tuple[jax.Array, Any, Any, Any]]:
    """:func:`explore_and_act` for ``agent``, jitted once per agent (the host loop's per-step call)."""
    return jax.jit(functools.partial(explore_and_act, agent))


@functools.cache
def jitted_exploring_step(agent: Agent) -> Callable[..., tuple[jax.Array, Any, Any, Any]]:
    """``(state, obs [B, ...], key, carry, episode_start, exploration) -> (actions, extras, carry,
    exploration)``, jitted once per agent: the agent's noise drawn from ``key`` and used as in
    training (stochastic evaluation, benchmarks of the acting call)."""
    def step(state, obs, key, carry, episode_start, exploration):
        noise = agent.sample_noise(state, key, (obs.shape[0],))
        return explore_and_act(agent, state, obs, noise, carry, episode_start, exploration)

    return jax.jit(step)


def acting_device() -> jax.Device:
    """The device the host loop acts on (the first one, also when the learner is sharded)."""
    return jax.devices()[0]


def acting_view(state: Any) -> Any:
    """The state without its optimizer state, which acting never reads: fewer leaves to flatten on
    every per-step call, ~1 us each. (``hparams`` stay: an agent's exploration may read them.)"""
    return state.replace(opt_state=None) if hasattr(state, "opt_state") else state


class ActorInput(NamedTuple):
    """What the next act call needs besides the train state; the loop carries it across rollouts."""

    obs: np.ndarray  # [B, *obs_shape]
    carry: Any  # the agent's recurrent carry of every env (None: feed-forward)
    episode_start: np.ndarray  # [B] bool: obs is the first observation of an episode
    exploration: Any  # the agent's exploration state (None where it keeps none)


def initial_actor_input(agent: Agent, state: Any, obs: np.ndarray) -> ActorInput:
    """Fresh carry and exploration state for the ``B`` envs of ``obs [B, ...]``, every env starting."""
    # Committed to the acting device like the carries act returns: an uncommitted first carry
    # is another jit signature, so act (and the rollout's carry stack) would compile twice.
    num_envs = obs.shape[0]
    carry, exploration = jax.device_put((agent.initial_carry(state, num_envs),
                                         agent.init_exploration(state, num_envs)), acting_device())
    return ActorInput(obs, carry, np.ones(num_envs, bool), exploration)


def act_for_evaluation(act: Callable[..., Any], explore: Callable[..., Any] | None, state: Any,
                       actor_input: ActorInput, key: jax.Array, index: int) -> tuple[jax.Array, ActorInput]:
    """``(actions [B], actor_input with the carry and exploration after them)``: greedy through ``act``
    (the agent's ``act``, jitted or not) where ``explore`` is None, else acting as in training through
    ``explore`` (a :func:`jitted_exploring_step`) with the noise of ``fold_in(key, index)``."""
    if explore is None:
        actions, _, carry = act(state, actor_input.obs, None, actor_input.carry, actor_input.episode_start)
        return actions, actor_input._replace(carry=carry)
    actions, _, carry, exploration = explore(state, actor_input.obs, jax.random.fold_in(key, index),
                                             actor_input.carry, actor_input.episode_start, actor_input.exploration)
    return actions, actor_input._replace(carry=carry, exploration=exploration)


def collect_rollout(
    env: HostVectorEnv,
    agent: Agent,
    state: Any,
    actor_input: ActorInput,
    key: jax.Array,
    num_steps: int,
    tracker: EpisodeTracker,
) -> tuple[Rollout, ActorInput]:
    """Step ``env`` for ``num_steps``; returns the ``[T, B]`` rollout and the next actor input.

    The rollout's noise is drawn in one call up front; each step then costs one jitted
    :func:`explore_and_act` call, and only the actions come back to the host. Step ``t + 1``'s
    policy is dispatched as soon as the env returns step ``t``'s observations, before step
    ``t``'s bookkeeping, so the device computes while the host copies (same calls, same order
    of results: the trajectory is that of the plain loop).
    """
    obs, carry, episode_start, exploration = actor_input
    batch_shape = (num_steps, env.num_envs)
    obs_buffer = np.empty(batch_shape + obs.shape[1:], obs.dtype)  # float32, or uint8 pixels
    next_obs_buffer = np.empty_like(obs_buffer)
    rewards = np.empty(batch_shape, np.float32)
    terminated = np.empty(batch_shape, bool)
    truncated = np.empty(batch_shape, bool)
    valid = np.empty(batch_shape, bool)
    actions, all_extras = [], []
    noise = np.asarray(agent.sample_noise(state, key, batch_shape))
    step_fn = jitted_explore_and_act(agent)
    # One device acts, even when the learner state is replicated over a mesh.
    acting_state = jax.device_put(acting_view(state), acting_device())

    pending = step_fn(acting_state, obs, noise[0], carry, episode_start, exploration)
    for t in range(num_steps):
        action, extras, carry, exploration = pending
        action = np.array(action)  # waits for the policy; a copy, as a NumPy view of a device buffer is slower
        step = env.step(action)
        if t + 1 < num_steps:
            # The next step's policy runs on the device while the host does this step's bookkeeping.
            pending = step_fn(acting_state, step.obs, noise[t + 1], carry, step.obs_is_reset, exploration)
        obs_buffer[t] = obs
        actions.append(action)
        all_extras.append(extras)
        rewards[t], terminated[t], truncated[t] = step.rewards, step.terminated, step.truncated
        next_obs_buffer[t], valid[t] = step.next_obs, step.valid
        tracker.record(step.rewards, step.terminated | step.truncated, step.valid)
        obs, episode_start = step.obs, step.obs_is_reset
    rollout = Rollout(
        obs=obs_buffer,
        actions=np.stack(actions),
        rewards=rewards,
        terminated=terminated,
        truncated=truncated,
        next_obs=next_obs_buffer,
        extras=jax.tree.map(lambda *xs: jnp.stack(xs), *all_extras),
        mask=valid.astype(np.float32),
    )
    return rollout, ActorInput(obs, carry, episode_start, exploration)
