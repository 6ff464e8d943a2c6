"""n-step items against hand-checked examples: horizons, episode ends, truncation, skipped envs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core import replay
from jaxrl.core.nstep import nstep_returns
from jaxrl.types import Transition

# jitted as the loops call them (eagerly, each step's dozens of small ops compiled one by one)
replay_add = jax.jit(replay.replay_add)
replay_init = jax.jit(replay.replay_init, static_argnums=(0, 2))


def step(t, num_envs=1, terminated=(), truncated=()):
    """Env e's step t: obs 10t + e, action t, reward t + 1 (+ 10e), next_obs 10(t + 1) + e."""
    envs = np.arange(num_envs)
    return Transition(obs=jnp.asarray(10.0 * t + envs)[:, None], actions=jnp.full(num_envs, t, jnp.int32),
                      rewards=jnp.asarray(t + 1.0 + 10 * envs), terminated=jnp.asarray(np.isin(envs, terminated)),
                      truncated=jnp.asarray(np.isin(envs, truncated)),
                      next_obs=jnp.asarray(10.0 * (t + 1) + envs)[:, None], extras={})


def stored(buffer):
    """(obs, rewards [n], nstep, next_obs, terminated, truncated) of the filled slots, by obs."""
    size = int(buffer.size)
    data = buffer.data
    rows = [(float(data.obs[i, 0]), data.rewards[i].tolist(), int(data.extras["nstep"][i]), float(data.next_obs[i, 0]),
             bool(data.terminated[i]), bool(data.truncated[i])) for i in range(size)]
    return sorted(rows)


@pytest.mark.parametrize("end", ["terminated", "truncated"])
def test_three_step_items_of_one_episode_by_hand(end):
    buffer = replay_init(16, step(0), n_step=3)
    for t in range(3):
        buffer = replay_add(buffer, step(t))
    # after 3 steps only step 0's item is complete: rewards 1, 2, 3 and the bootstrap from step 2's next_obs
    assert stored(buffer) == [(0.0, [1.0, 2.0, 3.0], 3, 30.0, False, False)]
    buffer = replay_add(buffer, step(3, **{end: (0,)}))  # the episode ends: every unfinished item is flushed
    ended = (end == "terminated", end == "truncated")
    assert stored(buffer) == [(0.0, [1.0, 2.0, 3.0], 3, 30.0, False, False),
                              (10.0, [2.0, 3.0, 4.0], 3, 40.0, *ended),
                              (20.0, [3.0, 4.0, 0.0], 2, 40.0, *ended),
                              (30.0, [4.0, 0.0, 0.0], 1, 40.0, *ended)]
    assert int(buffer.window.count[0]) == 0  # the next episode starts from an empty window
    buffer = replay_add(buffer, step(4))
    assert int(buffer.size) == 4  # its first step completes nothing yet


def test_envs_are_independent_and_skipped_envs_keep_their_window():
    buffer = replay_init(32, step(0, 2), n_step=2)
    buffer = replay_add(buffer, step(0, 2))
    buffer = replay_add(buffer, step(1, 2, terminated=(0,)), mask=jnp.asarray([True, False]))  # env 1 skipped
    assert stored(buffer) == [(0.0, [1.0, 2.0], 2, 20.0, True, False), (10.0, [2.0, 0.0], 1, 20.0, True, False)]
    buffer = replay_add(buffer, step(2, 2))
    # env 1's window still holds its step 0, so step 2 completes (step 0, step 2) for it: rewards 11 and 13
    assert (1.0, [11.0, 13.0], 2, 31.0, False, False) in stored(buffer)


def test_nstep_returns_discount_with_the_agents_gamma():
    rewards = jnp.asarray([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    returns, discount = nstep_returns(rewards, {"nstep": jnp.asarray([3, 1])}, 0.5)
    np.testing.assert_allclose(returns, [1 + 0.5 * 2 + 0.25 * 3, 4.0])
    np.testing.assert_allclose(discount, [0.125, 0.5])
    one_step, gamma = nstep_returns(jnp.asarray([1.0, 2.0]), {}, 0.9)  # 1-step items pass through
    np.testing.assert_allclose(one_step, [1.0, 2.0])
    np.testing.assert_allclose(gamma, [0.9, 0.9])
