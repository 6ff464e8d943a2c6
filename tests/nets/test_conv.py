"""The conv torso reads flat observations as images: a shifted pixel shifts its feature map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.nets.conv import ConvTorso
from jaxrl.types import EnvSpec


def test_a_shifted_pixel_shifts_the_feature_map():
    torso = ConvTorso((4, 3), (10, 10, 2))
    image = jnp.zeros((10, 10, 2)).at[3, 4, 1].set(1.0)
    shifted = jnp.roll(image, (2, 3), axis=(0, 1))
    params = torso.init(jax.random.PRNGKey(0), image.reshape(1, -1))
    features = torso.apply(params, jnp.stack([image, shifted]).reshape(2, -1)).reshape(2, 10, 10, 3)
    assert features.shape == (2, 10, 10, 3) and float(jnp.abs(features[0]).sum()) > 0
    np.testing.assert_allclose(jnp.roll(features[0], (2, 3), axis=(0, 1)), features[1], atol=1e-6)
    # batch axes in front are kept: [T, B, H*W*C] -> [T, B, H*W*3]
    assert torso.apply(params, jnp.zeros((4, 5, 200))).shape == (4, 5, 300)


def test_layer_norm_normalises_each_pixels_channels_before_the_relu():
    image = jax.random.normal(jax.random.PRNGKey(1), (2, 10, 10, 2))
    plain, normed = ConvTorso((5,), (10, 10, 2)), ConvTorso((5,), (10, 10, 2), layer_norm=True)
    params = normed.init(jax.random.PRNGKey(0), image.reshape(2, -1))
    # Without the norm the parameter names stay flax's own ("Conv_0"), so earlier checkpoints still load.
    assert set(plain.init(jax.random.PRNGKey(0), image.reshape(2, -1))["params"]) == {"Conv_0"}
    assert set(params["params"]) == {"Conv_0", "norm_0"}
    kernel, bias = (np.asarray(params["params"]["Conv_0"][name], np.float64) for name in ("kernel", "bias"))
    padded = np.pad(np.asarray(image, np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = sum(np.einsum("bhwc,cf->bhwf", padded[:, i:i + 10, j:j + 10], kernel[i, j])
               for i in range(3) for j in range(3)) + bias
    normalised = (conv - conv.mean(-1, keepdims=True)) / np.sqrt(conv.var(-1, keepdims=True) + 1e-6)
    features = normed.apply(params, image.reshape(2, -1)).reshape(2, 10, 10, 5)
    np.testing.assert_allclose(features, np.maximum(normalised, 0.0), atol=1e-4)


@pytest.mark.parametrize("algorithm", ["ppo", "pqn", "dqn"])
def test_agents_put_the_torso_before_their_mlp_on_images_only(algorithm):
    image_spec = EnvSpec(observation_shape=(10, 10, 4), discrete=True, action_dim=3)
    config = jaxrl.config_for(algorithm, "CartPole-v1", conv_channels=(8,), hidden_sizes=(16,))
    agent = jaxrl.agent_for(algorithm, config)
    state = agent.init(jax.random.PRNGKey(0), image_spec, config)
    kernels = [leaf.shape for path, leaf in jax.tree_util.tree_flatten_with_path(state.params)[0]
               if "kernel" in jax.tree_util.keystr(path) and leaf.ndim == 4]
    assert kernels and all(shape == (3, 3, 4, 8) for shape in kernels)
    actions, _, _ = agent.act(state, jnp.zeros((2, 10, 10, 4)), None, None, jnp.ones(2, bool))
    assert actions.shape == (2,)
    with pytest.raises(ValueError, match=r"conv_channels needs image observations \[H, W, C\]; this env's are \(4,\)"):
        agent.init(jax.random.PRNGKey(0), EnvSpec((4,), True, 2), config)


@pytest.mark.parametrize("kernel, stride, padding, height, width", [
    (3, 1, "same", 6, 5), (3, 1, "valid", 4, 3),  # MinAtar's
    (4, 2, "valid", 2, 1), (4, 2, "same", 3, 3), (3, 2, "same", 3, 3), (2, 3, "same", 2, 2), (5, 1, "same", 6, 5),
])
def test_the_conv_as_one_product_equals_flax_conv_with_the_same_parameters_and_initial_values(
        kernel, stride, padding, height, width):
    from flax import linen as nn

    from jaxrl.nets.conv import ConvProduct, conv_output_size

    images = jax.random.normal(jax.random.PRNGKey(0), (3, 6, 5, 4))
    reference = nn.Conv(7, (kernel, kernel), (stride, stride), padding=padding.upper())
    ours = ConvProduct(7, padding, kernel, stride)
    params = reference.init(jax.random.PRNGKey(1), images)
    jax.tree.map(np.testing.assert_array_equal, params, ours.init(jax.random.PRNGKey(1), images))
    out = ours.apply(params, images)
    assert out.shape == (3, height, width, 7) and conv_output_size((6, 5), 1, padding, (kernel,), (stride,)) == (
        height, width)
    np.testing.assert_allclose(out, reference.apply(params, images), atol=1e-5)
    gradient = jax.grad(lambda p: jnp.sum(ours.apply(p, images) ** 2))(params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4), gradient,
                 jax.grad(lambda p: jnp.sum(reference.apply(p, images) ** 2))(params))


def test_the_atari_torso_leaves_7x7_maps_of_84x84_frames():
    """The DQN paper's convs (32 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1, valid): 20x20, 9x9, 7x7."""
    from jaxrl.nets.conv import ConvTorso

    torso = ConvTorso((32, 64, 64), (84, 84, 4), padding="valid", kernels=(8, 4, 3), strides=(4, 2, 1))
    frames = jnp.zeros((2, 5, 84 * 84 * 4))
    params = torso.init(jax.random.PRNGKey(0), frames)
    assert torso.apply(params, frames).shape == (2, 5, 7 * 7 * 64)
    assert params["params"]["Conv_0"]["kernel"].shape == (8, 8, 4, 32)


def test_valid_padding_gives_the_minatar_networks_8x8_maps_and_small_images_are_refused():
    from jaxrl.agents import dqn
    from jaxrl.agents.dqn import DQNConfig

    spec = EnvSpec(observation_shape=(10, 10, 4), discrete=True, action_dim=3)
    for padding, inputs in (("same", 10 * 10 * 16), ("valid", 8 * 8 * 16)):
        config = DQNConfig(conv_channels=(16,), hidden_sizes=(128,), conv_padding=padding)
        state = dqn.init(jax.random.PRNGKey(0), spec, config)
        assert state.params["dense_0"]["kernel"].shape == (inputs, 128)
        q = dqn.q_values(state, state.params, jnp.ones((2, 10, 10, 4)))
        assert q.shape == (2, 3) and bool(jnp.all(jnp.isfinite(q)))
    with pytest.raises(ValueError, match=r"^conv_padding must be one of \['same', 'valid'\], got 'full'$"):
        DQNConfig(conv_channels=(16,), conv_padding="full").validate()
    tiny = EnvSpec(observation_shape=(4, 4, 1), discrete=True, action_dim=2)
    with pytest.raises(ValueError, match=r"^the 2 valid-padded conv\(s\) leave nothing of 4x4 images"):
        dqn.init(jax.random.PRNGKey(0), tiny, DQNConfig(conv_channels=(8, 8), conv_padding="valid"))


@pytest.mark.parametrize("algorithm", ["dqn", "pqn"])
def test_the_q_networks_take_kernels_and_strides_too(algorithm):
    """The Atari layout on 36x36 frames (cheaper than 84x84): 8x8, then 3x3, then 1x1 maps."""
    from jaxrl.agents.registry import ALGORITHMS
    from jaxrl.agents.value_based import init_q_params, q_network

    config = ALGORITHMS[algorithm].config_cls(conv_channels=(32, 64, 64), conv_kernels=(8, 4, 3),
                                              conv_strides=(4, 2, 1), conv_padding="valid", hidden_sizes=(16,))
    spec = EnvSpec(observation_shape=(36, 36, 4), discrete=True, action_dim=6)
    params = init_q_params(jax.random.PRNGKey(0), config.validate(), spec)
    assert params["conv"]["Conv_0"]["kernel"].shape == (8, 8, 4, 32)
    assert params["dense_0"]["kernel"].shape == (1 * 1 * 64, 16)
    q = q_network(config, spec).apply({"params": params}, jnp.zeros((3, 36 * 36 * 4)))
    assert q.shape == (3, 6)
