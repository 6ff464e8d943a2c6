"""n-step items against hand-checked examples: horizons, episode ends, truncation, skipped envs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core import sequence_replay
from jaxrl.core.nstep import nstep_returns
from jaxrl.types import Transition

# jitted as the loops call them (eagerly, each step's dozens of small ops compiled one by one)
add = jax.jit(sequence_replay.sequence_add)
init = jax.jit(sequence_replay.sequence_init, static_argnums=(0, 2))
sample = jax.jit(sequence_replay.sequence_sample, static_argnums=2)


def step(t, num_envs=1, terminated=(), truncated=()):
    """Env e's step t: obs 10t + e, action t, reward t + 1 (+ 10e), next_obs 10(t + 1) + e."""
    envs = np.arange(num_envs)
    return Transition(obs=jnp.asarray(10.0 * t + envs)[:, None], actions=jnp.full(num_envs, t, jnp.int32),
                      rewards=jnp.asarray(t + 1.0 + 10 * envs), terminated=jnp.asarray(np.isin(envs, terminated)),
                      truncated=jnp.asarray(np.isin(envs, truncated)),
                      next_obs=jnp.asarray(10.0 * (t + 1) + envs)[:, None], extras={})


def stored(buffer, draws=2000):
    """The distinct (obs, rewards [n], nstep, next_obs, terminated, truncated) items sampling reaches."""
    items = sample(buffer, jax.random.PRNGKey(0), draws)
    rows = zip(np.asarray(items.obs[:, 0]).tolist(), np.asarray(items.rewards).tolist(),
               np.asarray(items.extras["nstep"]).tolist(), np.asarray(items.next_obs[:, 0]).tolist(),
               np.asarray(items.terminated).tolist(), np.asarray(items.truncated).tolist())
    return sorted({(obs, tuple(rewards), *rest) for obs, rewards, *rest in rows})


@pytest.mark.parametrize("end", ["terminated", "truncated"])
def test_three_step_items_of_one_episode_by_hand(end):
    buffer = init(16, step(0), 3)
    for t in range(3):
        buffer = add(buffer, step(t))
    # after 3 steps only step 0's item is complete: rewards 1, 2, 3 and the bootstrap from step 2's next_obs
    assert stored(buffer) == [(0.0, (1.0, 2.0, 3.0), 3, 30.0, False, False)]
    buffer = add(buffer, step(3, **{end: (0,)}))  # the episode ends: every unfinished item completes
    ended = (end == "terminated", end == "truncated")
    assert stored(buffer) == [(0.0, (1.0, 2.0, 3.0), 3, 30.0, False, False),
                              (10.0, (2.0, 3.0, 4.0), 3, 40.0, *ended),
                              (20.0, (3.0, 4.0, 0.0), 2, 40.0, *ended),
                              (30.0, (4.0, 0.0, 0.0), 1, 40.0, *ended)]
    buffer = add(buffer, step(4))
    assert len(stored(buffer)) == 4  # the next episode's first step completes nothing yet


def test_envs_are_independent_and_skipped_envs_write_nothing():
    buffer = init(32, step(0, 2), 2)
    buffer = add(buffer, step(0, 2))
    buffer = add(buffer, step(1, 2, terminated=(0,)), jnp.asarray([True, False]))  # env 1 skipped
    assert stored(buffer) == [(0.0, (1.0, 2.0), 2, 20.0, True, False), (10.0, (2.0, 0.0), 1, 20.0, True, False)]
    buffer = add(buffer, step(2, 2))
    # env 1's step 0 is followed by its step 2: rewards 11 and 13, bootstrapping from step 2's next_obs
    assert (1.0, (11.0, 13.0), 2, 31.0, False, False) in stored(buffer)


def test_a_cut_ends_open_episodes_with_their_true_next_observation():
    buffer = init(16, step(0), 3)
    for t in range(2):
        buffer = add(buffer, step(t))
    buffer = jax.jit(sequence_replay.sequence_cut)(buffer)  # a resumed run resets the envs here
    buffer = add(buffer, step(7))  # the new episode: obs 70
    assert stored(buffer) == [(0.0, (1.0, 2.0, 0.0), 2, 20.0, False, False),  # bootstraps: not terminated
                              (10.0, (2.0, 0.0, 0.0), 1, 20.0, False, False)]


def test_nstep_returns_discount_with_the_agents_gamma():
    rewards = jnp.asarray([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    returns, discount = nstep_returns(rewards, {"nstep": jnp.asarray([3, 1])}, 0.5)
    np.testing.assert_allclose(returns, [1 + 0.5 * 2 + 0.25 * 3, 4.0])
    np.testing.assert_allclose(discount, [0.125, 0.5])
    one_step, gamma = nstep_returns(jnp.asarray([1.0, 2.0]), {}, 0.9)  # 1-step items pass through
    np.testing.assert_allclose(one_step, [1.0, 2.0])
    np.testing.assert_allclose(gamma, [0.9, 0.9])
