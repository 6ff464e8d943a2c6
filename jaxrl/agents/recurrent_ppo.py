"""PPO with LSTM actor and critic (``PPOConfig(policy="lstm")``), trained with truncated BPTT.

* ``act(state, obs [B, O], key, carry, episode_start [B])`` returns the new carry; the
  host loop keeps one carry per env and the network resets it where an episode starts.
* The rollout stores the carry of every step, so ``update`` cuts each env's rollout
  into chunks of ``seq_len`` steps, starts each chunk from its stored carry and replays
  it with the same per-step reset (``seq_len == num_steps``: full-rollout BPTT).
  Minibatches are drawn over chunks. GAE, the losses and the epoch/minibatch loop
  are the feed-forward agent's own (:func:`jaxrl.agents.ppo.optimize`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.ppo import (
    ActInfo,
    Params,
    PPOConfig,
    PPOState,
    Samples,
    action_noise,
    advantages_and_returns,
    network_kwargs,
    new_state,
    optimize,
)
from jaxrl.core.distributions import Categorical, DiagGaussian
from jaxrl.core.normalization import normalize
from jaxrl.nets.lstm import RecurrentActorCritic
from jaxrl.types import EnvSpec, RecurrentRollout

__all__ = ["act", "act_from_noise", "action_noise", "init", "initial_carry", "make_network", "update"]


def make_network(config: PPOConfig, spec: EnvSpec) -> RecurrentActorCritic:
    return RecurrentActorCritic(
        lstm_hidden_size=config.lstm_hidden_size,
        lstm_layers=config.lstm_layers,
        shared_lstm=config.shared_lstm,
        **network_kwargs(config, spec),
    )


def initial_carry(state: PPOState, batch_size: int) -> dict[str, Any]:
    """Zero carries for ``batch_size`` envs: ``{"actor", "critic"}`` or ``{"shared"}``."""
    return make_network(state.config, state.spec).initial_carry(batch_size)


def init(key: jax.Array, spec: EnvSpec, config: PPOConfig) -> PPOState:
    config.validate()
    if config.policy != "lstm":
        raise ValueError(f"recurrent_ppo needs policy='lstm', got {config.policy!r}")
    network = make_network(config, spec)
    obs = jnp.zeros((1, 1, *spec.observation_shape), jnp.float32)
    params = network.init(key, network.initial_carry(1), obs, jnp.zeros((1, 1), bool))["params"]
    return new_state(config, spec, dict(params))


def _distribution(state: PPOState, params: Params, policy_out: jax.Array) -> Categorical | DiagGaussian:
    if state.spec.discrete:
        return Categorical(policy_out)
    log_std = make_network(state.config, state.spec).apply({"params": params}, method=RecurrentActorCritic.log_std)
    return DiagGaussian(policy_out, log_std)


def _normalized(state: PPOState, obs: jax.Array) -> jax.Array:
    return normalize(state.obs_stats, obs) if state.config.norm_obs else obs


def sequence_outputs(
    state: PPOState, params: Params, carry: Any, obs: jax.Array, episode_start: jax.Array
) -> tuple[Any, jax.Array, jax.Array]:
    """Scan the network over ``obs [T, B, O]``: ``(carry, policy_out [T, B, A], value [T, B])``."""
    network = make_network(state.config, state.spec)
    return network.apply({"params": params}, carry, _normalized(state, obs), episode_start)


def _act_from_noise(
    state: PPOState, obs: jax.Array, noise: jax.Array, carry: Any, episode_start: jax.Array
) -> tuple[jax.Array, ActInfo, Any]:
    carry, policy_out, value = sequence_outputs(state, state.params, carry, obs[None], episode_start[None])
    dist = _distribution(state, state.params, policy_out[0])
    actions = dist.sample_from_noise(noise)
    return actions, ActInfo(log_prob=dist.log_prob(actions), value=value[0]), carry


def _act(
    state: PPOState, obs: jax.Array, key: jax.Array, carry: Any, episode_start: jax.Array, deterministic: bool = False
) -> tuple[jax.Array, ActInfo, Any]:
    noise = action_noise(state.spec, key, obs.shape[:1])
    return _act_from_noise(state, obs, jnp.zeros_like(noise) if deterministic else noise, carry, episode_start)


act = jax.jit(_act, static_argnames=("deterministic",))
act.__doc__ = """``(state, obs [B, O], key, carry, episode_start [B]) -> (actions, ActInfo, new_carry)``."""
act_from_noise = jax.jit(_act_from_noise)


def _next_values(state: PPOState, batch: RecurrentRollout) -> jax.Array:
    """Value ``[T, B]`` of each step's true next observation, continuing that step's episode."""
    after_step = jax.tree.map(lambda c, f: jnp.concatenate([c[1:], f[None]]), batch.carries, batch.final_carry)
    next_obs = batch.rollout.next_obs
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


def _update(state: PPOState, batch: RecurrentRollout, key: jax.Array) -> tuple[PPOState, dict[str, jax.Array]]:
    rollout, seq_len = batch.rollout, state.config.seq_len
    advantages, returns = advantages_and_returns(state, rollout, _next_values(state, batch))
    chunk_starts = jax.tree.map(lambda c: c[::seq_len].reshape((-1, *c.shape[2:])), batch.carries)
    samples = {
        "obs": _to_chunks(rollout.obs, seq_len),
        "actions": _to_chunks(rollout.actions, seq_len),
        "log_probs": _to_chunks(rollout.log_probs, seq_len),
        "values": _to_chunks(rollout.values, seq_len),
        "advantages": _to_chunks(advantages, seq_len),
        "returns": _to_chunks(returns, seq_len),
        "mask": _to_chunks(rollout.mask.astype(jnp.float32), seq_len),
        "episode_starts": _to_chunks(batch.episode_starts, seq_len),
        "carry": chunk_starts,
    }
    return optimize(state, samples, key, _evaluate_chunks)


update = jax.jit(_update)
update.__doc__ = """One recurrent PPO update on a :class:`~jaxrl.types.RecurrentRollout` ``[T, B]``."""
