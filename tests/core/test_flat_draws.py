import jax
import numpy as np
import pytest

from jaxrl.core.flat_draws import flat_draw
from jaxrl.envs.device import step_keys, transition_keys


@pytest.mark.parametrize("sample", [jax.random.normal, jax.random.uniform, jax.random.gumbel])
@pytest.mark.parametrize("shape", [(3, 5, 2), (7, 1), (4,)])
def test_flat_draw_gives_the_numbers_of_the_shaped_draw(sample, shape):
    key = jax.random.PRNGKey(11)
    np.testing.assert_array_equal(flat_draw(sample, key, shape), sample(key, shape))


@pytest.mark.parametrize("key", [jax.random.PRNGKey(5), jax.random.key(5)], ids=["raw", "typed"])
def test_flat_split_keeps_the_key_dimensions_and_the_keys(key):
    flat = flat_draw(jax.random.split, key, (4, 3, 2))
    shaped = jax.random.split(key, (4, 3, 2))
    assert flat.shape == shaped.shape
    np.testing.assert_array_equal(jax.random.key_data(flat), jax.random.key_data(shaped))


def test_env_step_keys_are_split_as_before_and_transition_keys_are_their_first():
    key = jax.random.PRNGKey(2)
    keys = step_keys(key, (6, 4))
    np.testing.assert_array_equal(keys, jax.random.split(key, (6, 4, 2)))
    np.testing.assert_array_equal(transition_keys(key, (6, 4)), keys[:, :, 0])
