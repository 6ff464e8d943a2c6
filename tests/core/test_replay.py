import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core.replay import item_bytes, replay_add, replay_init, replay_sample
from jaxrl.types import Transition


def batch(values, obs_dim=2):
    values = np.asarray(values, np.float32)
    return Transition(obs=np.repeat(values[:, None], obs_dim, 1), actions=values[:, None],
                      rewards=values, next_obs=np.repeat(values[:, None] + 0.5, obs_dim, 1),
                      terminated=values % 2 == 0, truncated=values % 3 == 0, extras={})


def empty(capacity, obs_shape=(2,), action_shape=(1,), action_dtype=np.float32):
    """A buffer built from an example batch of 1 transition of these shapes."""
    example = Transition(obs=np.zeros((1, *obs_shape), np.float32), actions=np.zeros((1, *action_shape), action_dtype),
                         rewards=np.zeros(1, np.float32), next_obs=np.zeros((1, *obs_shape), np.float32),
                         terminated=np.zeros(1, bool), truncated=np.zeros(1, bool), extras={})
    return replay_init(capacity, example)


def test_stores_content_and_wraps_around():
    buffer = empty(5)
    buffer = replay_add(buffer, batch([1, 2, 3]))
    assert int(buffer.size) == 3 and int(buffer.position) == 3
    buffer = replay_add(buffer, batch([4, 5, 6, 7]))  # 6 and 7 overwrite slots 0 and 1
    assert int(buffer.size) == 5 and int(buffer.position) == 2
    np.testing.assert_array_equal(buffer.data.rewards, [6, 7, 3, 4, 5])
    np.testing.assert_array_equal(buffer.data.next_obs[:, 0], [6.5, 7.5, 3.5, 4.5, 5.5])
    np.testing.assert_array_equal(buffer.data.terminated, [True, False, False, True, False])
    np.testing.assert_array_equal(buffer.data.truncated, [True, False, True, False, False])
    assert buffer.data.terminated.dtype == bool


def test_samples_only_filled_slots():
    buffer = replay_add(empty(1000), batch([10, 20, 30]))
    sample = replay_sample(buffer, jax.random.PRNGKey(0), 3000)
    assert set(np.unique(sample.rewards).tolist()) == {10.0, 20.0, 30.0}
    np.testing.assert_array_equal(sample.obs[:, 0], sample.rewards)  # rows stay together


def test_masked_rows_are_skipped():
    buffer = replay_add(empty(4), batch([1, 2, 3]), mask=jnp.array([True, False, True]))
    assert int(buffer.size) == 2 and int(buffer.position) == 2
    np.testing.assert_array_equal(buffer.data.rewards[:2], [1, 3])
    buffer = replay_add(buffer, batch([4, 5, 6]), mask=jnp.array([True, True, False]))
    np.testing.assert_array_equal(buffer.data.rewards, [1, 3, 4, 5])


def test_memory_is_exactly_capacity_times_item_size():
    buffer = empty(1234, (3, 2), (4,))
    data_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(buffer.data))
    # float32 obs and next_obs (6 each), action (4) and reward; bool terminated and truncated
    assert data_bytes == 1234 * item_bytes(buffer.data) == 1234 * (4 * (2 * 6 + 4 + 1) + 2)


def test_discrete_actions_and_extras_fit_without_new_code():
    example = Transition(obs=np.zeros((1, 2), np.float32), actions=np.zeros(1, np.int32),
                         rewards=np.zeros(1, np.float32), next_obs=np.zeros((1, 2), np.float32),
                         terminated=np.zeros(1, bool), truncated=np.zeros(1, bool),
                         extras={"q": np.zeros((1, 3), np.float32)})
    buffer = replay_init(4, example)
    rows = example.replace(obs=np.ones((2, 2), np.float32), actions=np.array([2, 1], np.int32),
                           rewards=np.array([1.0, 2.0], np.float32), next_obs=np.ones((2, 2), np.float32),
                           terminated=np.array([True, False]), truncated=np.array([False, False]),
                           extras={"q": np.arange(6, dtype=np.float32).reshape(2, 3)})
    buffer = replay_add(buffer, rows)
    assert buffer.data.actions.dtype == jnp.int32 and buffer.data.actions.shape == (4,)
    np.testing.assert_array_equal(buffer.data.actions[:2], [2, 1])
    np.testing.assert_array_equal(buffer.data.extras["q"][1], [3, 4, 5])


def test_add_is_jittable_with_a_donated_buffer():
    add = jax.jit(replay_add, donate_argnums=0)
    buffer = empty(3)
    for value in range(5):
        buffer = add(buffer, batch([value]))
    np.testing.assert_array_equal(buffer.data.rewards, [3, 4, 2])


def test_invalid_capacity():
    with pytest.raises(ValueError, match="buffer_size must be >= 1"):
        empty(0)
