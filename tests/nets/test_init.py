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


@pytest.mark.parametrize("algorithm, env_id", [("ppo", "CartPole-v1"), ("ppo", "Pendulum-v1"), ("sac", "Pendulum-v1")])
def test_a_jitted_init_under_eager_values_starts_where_the_eager_init_did(algorithm, env_id):
    """The host loop jits its agent's init inside ``eager_values``: bit for bit the eager init's
    parameters (without it, PPO's one-column heads came out one ulp apart), so host runs keep
    their trajectories."""
    from jaxrl.agents.registry import get_algorithm
    from jaxrl.api import config_for
    from jaxrl.envs.host import host_env_for
    from jaxrl.nets.init import eager_values

    config = config_for(algorithm, env_id, seed=1)
    agent = get_algorithm(algorithm).agent_for(config)
    env = host_env_for(config)
    spec = env.spec
    env.close()
    key = jax.random.PRNGKey(3)
    eager = agent.init(key, spec, config)
    with eager_values():
        jitted = jax.jit(lambda k: agent.init(k, spec, config))(key)
    for leaf, other in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(other))
