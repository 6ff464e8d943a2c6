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
                      terminated=(values % 2 == 0).astype(np.float32))


def test_stores_content_and_wraps_around():
    buffer = replay_init(5, (2,), 1)
    buffer = replay_add(buffer, batch([1, 2, 3]))
    assert int(buffer.size) == 3 and int(buffer.position) == 3
    buffer = replay_add(buffer, batch([4, 5, 6, 7]))  # 6 and 7 overwrite slots 0 and 1
    assert int(buffer.size) == 5 and int(buffer.position) == 2
    np.testing.assert_array_equal(buffer.data.rewards, [6, 7, 3, 4, 5])
    np.testing.assert_array_equal(buffer.data.next_obs[:, 0], [6.5, 7.5, 3.5, 4.5, 5.5])
    np.testing.assert_array_equal(buffer.data.terminated, [1, 0, 0, 1, 0])


def test_samples_only_filled_slots():
    buffer = replay_add(replay_init(1000, (2,), 1), batch([10, 20, 30]))
    sample = replay_sample(buffer, jax.random.PRNGKey(0), 3000)
    assert set(np.unique(sample.rewards).tolist()) == {10.0, 20.0, 30.0}
    np.testing.assert_array_equal(sample.obs[:, 0], sample.rewards)  # rows stay together


def test_masked_rows_are_skipped():
    buffer = replay_add(replay_init(4, (2,), 1), batch([1, 2, 3]), mask=jnp.array([True, False, True]))
    assert int(buffer.size) == 2 and int(buffer.position) == 2
    np.testing.assert_array_equal(buffer.data.rewards[:2], [1, 3])
    buffer = replay_add(buffer, batch([4, 5, 6]), mask=jnp.array([True, True, False]))
    np.testing.assert_array_equal(buffer.data.rewards, [1, 3, 4, 5])


def test_memory_is_exactly_capacity_times_item_size():
    buffer = replay_init(1234, (3, 2), 4)
    data_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(buffer.data))
    assert data_bytes == 1234 * item_bytes((3, 2), 4) == 1234 * 4 * (2 * 6 + 4 + 2)


def test_add_is_jittable_with_a_donated_buffer():
    add = jax.jit(replay_add, donate_argnums=0)
    buffer = replay_init(3, (2,), 1)
    for value in range(5):
        buffer = add(buffer, batch([value]))
    np.testing.assert_array_equal(buffer.data.rewards, [3, 4, 2])


def test_invalid_capacity():
    with pytest.raises(ValueError, match="buffer_size must be >= 1"):
        replay_init(0, (2,), 1)
