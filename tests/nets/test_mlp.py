import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.nets.mlp import MLP, ActorCritic


def test_orthogonal_init_uses_the_configured_gains():
    net = ActorCritic(action_dim=64, continuous=False, hidden_sizes=(64, 64), hidden_gain=0.5, policy_gain=0.01,
                      value_gain=0.1)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 64)))["params"]
    hidden = np.asarray(params["actor_trunk"]["Dense_1"]["kernel"])
    np.testing.assert_allclose(hidden.T @ hidden, 0.25 * np.eye(64), atol=1e-5)
    policy = np.asarray(params["policy_head"]["kernel"])
    np.testing.assert_allclose(policy.T @ policy, 1e-4 * np.eye(64), atol=1e-8)
    value = np.asarray(params["value_head"]["kernel"])
    np.testing.assert_allclose(np.linalg.norm(value), 0.1, rtol=1e-5)
    assert np.all(np.asarray(params["actor_trunk"]["Dense_0"]["bias"]) == 0)


def test_shared_trunk_and_separate_networks_have_the_expected_parameters():
    obs = jnp.zeros((3, 5))
    shared = ActorCritic(2, False, shared_trunk=True).init(jax.random.PRNGKey(0), obs)["params"]
    separate = ActorCritic(2, False, shared_trunk=False).init(jax.random.PRNGKey(0), obs)["params"]
    assert set(shared) == {"trunk", "policy_head", "value_head"}
    assert set(separate) == {"actor_trunk", "critic_trunk", "policy_head", "value_head"}


def test_log_std_is_a_parameter_only_when_trainable():
    obs = jnp.zeros((2, 3))
    trainable = ActorCritic(2, True, log_std_init=-0.5)
    params = trainable.init(jax.random.PRNGKey(0), obs)["params"]
    np.testing.assert_allclose(params["log_std"], [-0.5, -0.5])
    fixed = ActorCritic(2, True, log_std_init=-1.0, trainable_log_std=False)
    fixed_params = fixed.init(jax.random.PRNGKey(0), obs)["params"]
    assert "log_std" not in fixed_params
    np.testing.assert_allclose(fixed.apply({"params": fixed_params}, method=ActorCritic.log_std), [-1.0, -1.0])


@pytest.mark.parametrize("activation", ["tanh", "relu", "silu", "elu"])
def test_mlp_shapes_for_every_activation(activation):
    net = MLP((8, 4), activation)
    out, _ = net.init_with_output(jax.random.PRNGKey(0), jnp.ones((7, 3)))
    assert out.shape == (7, 4)


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP((4,), "swish").init(jax.random.PRNGKey(0), jnp.ones((1, 2)))


def test_layer_norm_normalises_each_hidden_layer_before_its_activation():
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    net = MLP((8,), "tanh", layer_norm=True)
    params = net.init(jax.random.PRNGKey(1), x)["params"]
    assert set(params) == {"Dense_0", "LayerNorm_0"}
    hidden = np.asarray(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
    normalised = (hidden - hidden.mean(-1, keepdims=True)) / np.sqrt(hidden.var(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(net.apply({"params": params}, x), np.tanh(normalised), rtol=1e-5, atol=1e-5)
    assert set(MLP((8,)).init(jax.random.PRNGKey(1), x)["params"]) == {"Dense_0"}  # unchanged without it
