import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.nets.init import gram_schmidt_q, init_in_one_batch, orthogonal, orthonormal_batch, padding_groups


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


def test_padding_groups_batch_small_kernels_and_keep_a_large_one_apart():
    ppo_cartpole = [(64, 4), (64, 64), (64, 2), (64, 4), (64, 64), (64, 1)]
    assert [sorted(group) for group in padding_groups(ppo_cartpole)] == [[0, 1, 2, 3, 4, 5]]
    # a 1,600 x 512 torso layer padded with three heads would do ~4x its own work (>> the slack)
    minatar = [(1600, 512), (512, 6), (512, 1), (144, 16)]
    groups = padding_groups(minatar)
    assert sorted(sorted(group) for group in groups) == [[0], [1, 2, 3]]


def test_orthonormal_batch_gives_each_kernel_the_q_of_its_own_slice_of_one_draw():
    shapes = [(64, 4), (5, 5), (64, 64), (30, 1), (1600, 40)]
    key = jax.random.PRNGKey(11)
    matrices = orthonormal_batch(key, shapes)
    flat = jax.random.normal(key, (sum(rows * cols for rows, cols in shapes),))
    offset = 0
    for (rows, cols), q in zip(shapes, matrices, strict=True):
        draw = flat[offset:offset + rows * cols].reshape(rows, cols)
        offset += rows * cols
        assert q.shape == (rows, cols)
        np.testing.assert_allclose(q, gram_schmidt_q(draw), atol=2e-5)  # padding changed only rounding
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=2e-5)
        assert np.all(np.isfinite(np.asarray(q)))


def _layers(num_layers: int, width: int, gain: float = 1.0) -> nn.Module:
    class Stack(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(num_layers):
                x = nn.Dense(width, kernel_init=orthogonal(gain))(x)
            return x

    return Stack()


def _primitive_names(jaxpr) -> list[str]:
    """Every equation's primitive in ``jaxpr`` and, recursively, in its calls' and loops' bodies."""
    names = []
    for equation in jaxpr.eqns:
        names.append(equation.primitive.name)
        for param in equation.params.values():
            for value in param if isinstance(param, (list, tuple)) else (param,):
                inner = getattr(value, "jaxpr", value)
                if hasattr(inner, "eqns"):
                    names += _primitive_names(inner)
    return names


def test_init_in_one_batch_draws_once_and_orthonormalises_in_one_loop():
    """PPO's six CartPole kernels drew six keys, six matrices and ran six Gram-Schmidt loops;
    together they take one draw and one loop (what the compile time was spent on)."""
    net = _layers(3, 16, gain=2.0)
    x = jnp.zeros((1, 16))

    def primitives(fn) -> tuple[int, int]:
        names = _primitive_names(jax.make_jaxpr(fn)(jax.random.PRNGKey(0)).jaxpr)
        return names.count("random_bits"), names.count("scan") + names.count("while")

    per_layer = primitives(lambda key: net.init(key, x))
    batched = primitives(lambda key: init_in_one_batch(net.init, key, x))
    assert per_layer == (3, 3) and batched == (1, 1)
    params = init_in_one_batch(net.init, jax.random.PRNGKey(0), x)["params"]
    kernels = [np.asarray(params[f"Dense_{i}"]["kernel"]) for i in range(3)]
    for kernel in kernels:
        np.testing.assert_allclose(kernel.T @ kernel, 4.0 * np.eye(16), atol=2e-5)
    assert not np.allclose(kernels[0], kernels[1])  # each layer its own slice of the draw


def test_init_in_one_batch_gives_wide_and_conv_kernels_orthonormal_rows_or_columns():
    class Mixed(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(8, (3, 3), kernel_init=orthogonal(1.0))(x)  # kernel [3, 3, 2, 8]: 18 x 8
            return nn.Dense(40, kernel_init=orthogonal(1.0))(x.reshape(1, -1)[:, :8])  # wide [8, 40]

    params = init_in_one_batch(Mixed().init, jax.random.PRNGKey(2), jnp.zeros((1, 4, 4, 2)))["params"]
    conv = np.asarray(params["Conv_0"]["kernel"]).reshape(18, 8)
    np.testing.assert_allclose(conv.T @ conv, np.eye(8), atol=2e-5)
    wide = np.asarray(params["Dense_0"]["kernel"])
    np.testing.assert_allclose(wide @ wide.T, np.eye(8), atol=2e-5)


def test_init_in_one_batch_refuses_an_init_that_changes_between_its_traces():
    calls = []

    def init_fn(key):
        calls.append(None)
        return orthogonal()(key, (4, 4)) if len(calls) == 1 else orthogonal()(key, (8, 8))

    with pytest.raises(RuntimeError, match="different set of orthogonal kernels"):
        init_in_one_batch(init_fn, jax.random.PRNGKey(0))


def test_each_critic_of_an_ensemble_gets_its_own_kernels_from_the_batch():
    """The Q ensemble lifts its layers through ``nn.vmap``: one batched kernel handed to the lifted
    layer would be every member's. Under ``lifted_members`` each member picks its own by its
    ``axis_index``, and the ensemble still draws once and runs one loop."""
    from jaxrl.nets.continuous import QEnsemble

    ensemble = QEnsemble(num_critics=3, hidden_sizes=(32, 32))
    inputs = (jnp.zeros((1, 3)), jnp.zeros((1, 1)))
    params = init_in_one_batch(ensemble.init, jax.random.PRNGKey(0), *inputs)
    hidden = [np.asarray(leaf) for leaf in jax.tree.leaves(params) if leaf.ndim == 3 and leaf.shape[-1] == 32]
    assert len(hidden) == 2 and all(kernel.shape[0] == 3 for kernel in hidden)
    for kernel in hidden:
        assert not np.allclose(kernel[0], kernel[1]) and not np.allclose(kernel[1], kernel[2])
        for member in kernel:
            rows, cols = member.shape
            gram = member.T @ member if rows >= cols else member @ member.T
            np.testing.assert_allclose(gram / gram[0, 0], np.eye(min(rows, cols)), atol=2e-5)
    names = _primitive_names(jax.make_jaxpr(lambda key: init_in_one_batch(ensemble.init, key, *inputs))(
        jax.random.PRNGKey(0)).jaxpr)
    assert names.count("scan") + names.count("while") == 1
