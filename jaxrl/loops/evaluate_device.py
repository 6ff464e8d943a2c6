"""Evaluation episodes of a JAX env played on the device: every episode at once.

The host evaluator (:func:`jaxrl.loops.evaluate.evaluate`) steps one env through gymnasium, a
device call or two per env step; on an accelerator that is most of an evaluation's time. Here
``episodes`` envs each play one episode inside one jitted ``lax.while_loop``, which stops when
every env has finished its first episode. Envs step without the auto-reset
(:attr:`DeviceEnv.step_in_episode`: no reset to compile, a physics env's costliest part), and one
that finished early stays frozen at its final state until the last one ends.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.envs.device import DeviceEnv, DeviceStep, transition_keys
from jaxrl.loops.acting import jitted_exploring_step
from jaxrl.types import Agent


class _Playing(NamedTuple):
    """The while-loop's carry; ``[E, ...]`` over the ``E`` evaluation envs."""

    env_state: Any
    obs: jax.Array
    carry: Any  # the agent's recurrent carry (None: feed-forward)
    exploration: Any  # the agent's exploration state (stochastic evaluation)
    episode_start: jax.Array  # bool: obs starts an episode
    finished: jax.Array  # bool: the env's first episode has ended
    returns: jax.Array  # float32: summed rewards of the first episode
    lengths: jax.Array  # int32: its steps
    steps: jax.Array  # int32 []: loop iterations so far
    key: jax.Array


def episode_returns(agent: Agent, env: DeviceEnv, episodes: int, deterministic: bool,
                    max_steps: int) -> Any:
    """``play(state, key) -> (returns [E], lengths [E], finished [E])`` for ``E = episodes``
    fresh episodes of ``env``, at most ``max_steps`` steps each; pure and jittable.

    ``deterministic``: the agent's deterministic action (``act`` without noise); otherwise it acts
    as it explores in training (its noise and exploration state)."""

    def step_unless_finished(env_state: Any, obs: jax.Array, action: jax.Array, key: jax.Array,
                             finished: jax.Array) -> DeviceStep:
        """One env's step; a finished env keeps its final state and observation."""
        stepped = env.step_in_episode(env_state, action, key)
        kept_state, kept_obs = jax.tree.map(lambda new, old: jnp.where(finished, old, new),
                                            (stepped.env_state, stepped.obs), (env_state, obs))
        return stepped._replace(env_state=kept_state, obs=kept_obs)

    def step(playing: _Playing, state: Any) -> _Playing:
        key, noise_key, env_key = jax.random.split(playing.key, 3)
        if deterministic:
            actions, _, carry = agent.act(state, playing.obs, None, playing.carry, playing.episode_start)
            exploration = playing.exploration
        else:
            actions, _, carry, exploration = jitted_exploring_step(agent)(
                state, playing.obs, noise_key, playing.carry, playing.episode_start, playing.exploration)
        # the auto-resetting step's transition keys: evaluations give what they gave with it
        stepped = jax.vmap(step_unless_finished)(playing.env_state, playing.obs, actions,
                                                 transition_keys(env_key, (episodes,)), playing.finished)
        counting = ~playing.finished
        ended = stepped.terminated | stepped.truncated
        return _Playing(stepped.env_state, stepped.obs, carry, exploration, ended, playing.finished | ended,
                        playing.returns + jnp.where(counting, stepped.reward, 0.0),
                        playing.lengths + counting.astype(jnp.int32), playing.steps + 1, key)

    def play(state: Any, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        reset_key, key = jax.random.split(key)
        env_state, obs = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
        start = _Playing(env_state, obs, agent.initial_carry(state, episodes),
                         agent.init_exploration(state, episodes), jnp.ones(episodes, bool),
                         jnp.zeros(episodes, bool), jnp.zeros(episodes, jnp.float32), jnp.zeros(episodes, jnp.int32),
                         jnp.zeros((), jnp.int32), key)
        done = jax.lax.while_loop(lambda p: (p.steps < max_steps) & ~jnp.all(p.finished),
                                  lambda p: step(p, state), start)
        return done.returns, done.lengths, done.finished

    return play


def evaluate_on_device(agent: Agent, state: Any, env: DeviceEnv, episodes: int, deterministic: bool,
                       seed: int = 0, max_steps: int = 1_000_000) -> tuple[list[float], list[int]]:
    """Raw returns and lengths of ``episodes`` fresh episodes of ``env``, all played at once on the
    device (see the module doc); ``RuntimeError`` where some did not end within ``max_steps`` steps."""
    play = jax.jit(episode_returns(agent, env, episodes, deterministic, max_steps))
    returns, lengths, finished = jax.device_get(play(state, jax.random.PRNGKey(seed)))
    require_all_ended(int(finished.sum()), finished.size, max_steps)
    return [float(r) for r in returns], [int(n) for n in lengths]


def require_all_ended(ended: int, episodes: int, max_steps: int, when: str = "") -> None:
    """``RuntimeError`` (prefixed by ``when``) saying how many of ``episodes`` evaluation episodes
    ended, where fewer than all of them ended within ``max_steps`` steps: an evaluation that would
    otherwise average unfinished episodes' partial returns."""
    if ended < episodes:
        raise RuntimeError(f"{when}only {ended} of {episodes} episodes finished within {max_steps} steps")
