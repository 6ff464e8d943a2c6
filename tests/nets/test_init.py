import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.nets.init import gram_schmidt_q, orthogonal


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (64, 1), (3, 256), (2, 3, 5)])
def test_matches_flax_orthogonal_for_the_same_key(shape):
    key = jax.random.PRNGKey(7)
    expected = nn.initializers.orthogonal(1.3)(key, shape)
    np.testing.assert_allclose(orthogonal(1.3)(key, shape), expected, atol=5e-6)


def test_gram_schmidt_q_is_orthonormal_with_positive_r_diagonal():
    matrix = jax.random.normal(jax.random.PRNGKey(0), (40, 25))
    q = gram_schmidt_q(matrix)
    np.testing.assert_allclose(q.T @ q, np.eye(25), atol=2e-6)
    r = q.T @ matrix
    assert np.all(np.diag(r) > 0)
    np.testing.assert_allclose(q @ r, matrix, atol=2e-5)


def test_rank_one_shape_is_a_value_error():
    with pytest.raises(ValueError, match="rank >= 2"):
        orthogonal()(jax.random.PRNGKey(0), (5,))


def test_vmapped_init_inside_jit_gives_each_key_its_own_matrix():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    batched = jax.jit(jax.vmap(lambda k: orthogonal()(k, (8, 8))))(keys)
    for index, key in enumerate(keys):
        np.testing.assert_allclose(batched[index], orthogonal()(key, (8, 8)), atol=1e-6)
    assert not jnp.allclose(batched[0], batched[1])
