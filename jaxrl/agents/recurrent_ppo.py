"""PPO with recurrent actor and critic (``PPOConfig(policy="lstm")`` or ``"gru"``), trained with truncated BPTT:
:data:`RECURRENT_PPO`.

* ``act(state, obs [B, O], noise, carry, episode_start [B])`` returns the new carry; the
  loops keep one carry per env and the network resets it where an episode starts.
* ``act``'s extras hold the carry that entered every step (and ``episode_start``), so the
  rollout stores them and ``update`` cuts each env's rollout
  into chunks of ``seq_len`` steps, starts each chunk from its stored carry and replays
  it with the same per-step reset (``seq_len == num_steps``: full-rollout BPTT).
  Minibatches are drawn over chunks. GAE, the losses and the epoch/minibatch loop
  are the feed-forward agent's own (:func:`jaxrl.agents.ppo.optimize`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import flat_observations, no_exploration, noise_as_is, noise_or_zeros
from jaxrl.agents.ppo import (
    Params,
    PPOConfig,
    PPOState,
    Samples,
    advantages_and_returns,
    network_kwargs,
    new_state,
    optimize,
    sample_noise,
    with_normalized_rewards,
)
from jaxrl.agents.ppo_config import RECURRENT_POLICIES
from jaxrl.core.distributions import ActionDistribution, DiagGaussian, discrete_distribution
from jaxrl.core.normalization import normalize
from jaxrl.nets.init import init_in_one_batch
from jaxrl.nets.recurrent import RecurrentActorCritic
from jaxrl.types import Agent, EnvSpec, Rollout


def make_network(config: PPOConfig, spec: EnvSpec) -> RecurrentActorCritic:
    return RecurrentActorCritic(
        lstm_hidden_size=config.lstm_hidden_size,
        lstm_layers=config.lstm_layers,
        shared_lstm=config.shared_lstm,
        cell=config.policy,
        **network_kwargs(config, spec),
    )


def initial_carry(state: PPOState, batch_size: int) -> dict[str, Any]:
    """Zero carries for ``batch_size`` envs: ``{"actor", "critic"}`` or ``{"shared"}``."""
    return make_network(state.config, state.spec).initial_carry(batch_size)


def init(key: jax.Array, spec: EnvSpec, config: PPOConfig) -> PPOState:
    config.validate()
    if config.policy not in RECURRENT_POLICIES:
        raise ValueError(f"recurrent_ppo needs policy 'lstm' or 'gru', got {config.policy!r}")
    network = make_network(config, spec)
    obs = jnp.zeros((1, 1, spec.policy_size), jnp.float32)
    params = init_in_one_batch(network.init, key, network.initial_carry(1), obs, jnp.zeros((1, 1), bool))["params"]
    return new_state(config, spec, dict(params))


def _distribution(state: PPOState, params: Params, policy_out: jax.Array) -> ActionDistribution:
    if state.spec.discrete:
        return discrete_distribution(policy_out, state.spec.action_nvec)
    log_std = make_network(state.config, state.spec).apply({"params": params}, method=RecurrentActorCritic.log_std)
    return DiagGaussian(policy_out, log_std)


def _normalized(state: PPOState, obs: jax.Array) -> jax.Array:
    """Normalized (if configured) and flattened observations ``[..., prod(obs_shape)]``."""
    return flat_observations(normalize(state.obs_stats, obs) if state.config.norm_obs else obs, state.spec)


def sequence_outputs(
    state: PPOState, params: Params, carry: Any, obs: jax.Array, episode_start: jax.Array
) -> tuple[Any, jax.Array, jax.Array]:
    """Scan the network over ``obs [T, B, O]``: ``(carry, policy_out [T, B, A], value [T, B])``."""
    network = make_network(state.config, state.spec)
    return network.apply({"params": params}, carry, _normalized(state, obs), episode_start)


def _act(
    state: PPOState, obs: jax.Array, noise: jax.Array | None, carry: Any, episode_start: jax.Array
) -> tuple[jax.Array, dict[str, Any], Any]:
    new_carry, policy_out, value = sequence_outputs(state, state.params, carry, obs[None], episode_start[None])
    dist = _distribution(state, state.params, policy_out[0])
    actions = dist.sample_from_noise(noise_or_zeros(noise, (obs.shape[0], state.spec.action_dim)))
    extras = {"log_prob": dist.log_prob(actions), "value": value[0], "carry": carry, "episode_start": episode_start}
    return actions, extras, new_carry


act = jax.jit(_act)
act.__doc__ = """``(state, obs [B, O], noise | None, carry, episode_start [B]) -> (actions, extras, new_carry)``;
``extras``: ``log_prob`` and ``value`` ``[B]``, and the ``carry`` and ``episode_start`` that went in
(what :func:`update` replays the sequence from)."""


def _next_values(state: PPOState, rollout: Rollout) -> jax.Array:
    """Value ``[T, B]`` of each step's true next observation, continuing that step's episode.

    The carry after step ``t`` entered step ``t + 1``; after the last step it is recomputed
    with one network step (the parameters are those that acted)."""
    carries, starts = rollout.extras["carry"], rollout.extras["episode_start"]
    last = lambda x: x[-1:]
    final_carry, _, _ = sequence_outputs(state, state.params, jax.tree.map(lambda c: c[-1], carries),
                                         last(rollout.obs), last(starts))
    after_step = jax.tree.map(lambda c, f: jnp.concatenate([c[1:], f[None]]), carries, final_carry)
    next_obs = rollout.next_obs
    steps, envs = next_obs.shape[:2]
    flat_carry = jax.tree.map(lambda c: c.reshape((steps * envs, *c.shape[2:])), after_step)
    flat_obs = _normalized(state, next_obs.reshape((steps * envs, *next_obs.shape[2:])))
    network = make_network(state.config, state.spec)
    values = network.apply({"params": state.params}, flat_carry, flat_obs, method=RecurrentActorCritic.critic_step)
    return values.reshape((steps, envs))


def _to_chunks(x: jax.Array, seq_len: int) -> jax.Array:
    """``[T, B, ...] -> [T / seq_len * B, seq_len, ...]``: each env's rollout cut into chunks."""
    steps, envs = x.shape[:2]
    x = x.reshape((steps // seq_len, seq_len, envs, *x.shape[2:]))
    return jnp.swapaxes(x, 1, 2).reshape((steps // seq_len * envs, seq_len, *x.shape[3:]))


def _evaluate_chunks(state: PPOState, params: Params, mb: Samples) -> tuple[Any, jax.Array]:
    """Replay chunks ``[M, L, ...]`` from their stored carries; outputs ``[M, L, ...]``."""
    time_major = lambda x: jnp.swapaxes(x, 0, 1)
    _, policy_out, values = sequence_outputs(
        state, params, mb["carry"], time_major(mb["obs"]), time_major(mb["episode_starts"])
    )
    return _distribution(state, params, time_major(policy_out)), time_major(values)


def _update(state: PPOState, rollout: Rollout, key: jax.Array) -> tuple[PPOState, dict[str, jax.Array]]:
    rollout, reward_norm = with_normalized_rewards(state, rollout)
    seq_len, extras = state.config.seq_len, rollout.extras
    advantages, returns = advantages_and_returns(state, rollout, _next_values(state, rollout))
    chunk_starts = jax.tree.map(lambda c: c[::seq_len].reshape((-1, *c.shape[2:])), extras["carry"])
    samples = {
        "obs": _to_chunks(rollout.obs, seq_len),
        "actions": _to_chunks(rollout.actions, seq_len),
        "log_probs": _to_chunks(extras["log_prob"], seq_len),
        "values": _to_chunks(extras["value"], seq_len),
        "advantages": _to_chunks(advantages, seq_len),
        "returns": _to_chunks(returns, seq_len),
        "mask": _to_chunks(rollout.mask.astype(jnp.float32), seq_len),
        "episode_starts": _to_chunks(extras["episode_start"], seq_len),
        "carry": chunk_starts,
    }
    return optimize(state.replace(reward_norm=reward_norm), samples, key, _evaluate_chunks)


update = jax.jit(_update)
update.__doc__ = """One recurrent PPO update on a :class:`~jaxrl.types.Rollout` ``[T, B]`` collected with
:func:`act`."""

RECURRENT_PPO = Agent(init=init, act=act, update=update, sample_noise=sample_noise, init_exploration=no_exploration,
                      explore=noise_as_is, initial_carry=initial_carry)
"""The recurrent PPO agent (``PPOConfig(policy="lstm")`` or ``policy="gru"``)."""
