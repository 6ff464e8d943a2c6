"""A small convolutional torso for image-shaped observations ``[H, W, C]`` (MinAtar's
``[10, 10, C]``), placed before an MLP. The agents hand their networks flat observations
``[..., H * W * C]``; the torso restores the image shape, convolves and flattens again."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.nets.mlp import MLP


def check_image_observations(channels: Sequence[int], observation_shape: tuple[int, ...],
                             padding: str = "same") -> None:
    """``ValueError`` in one line when a conv torso is asked for observations that are not ``[H, W, C]``,
    or too small for its unpadded ("valid") convs."""
    if channels and len(observation_shape) != 3:
        raise ValueError(f"conv_channels needs image observations [H, W, C]; this env's are {observation_shape} "
                         "(drop --conv-channels)")
    if channels and padding == "valid" and min(observation_shape[:2]) <= 2 * len(channels):
        raise ValueError(f"{len(channels)} valid-padded 3x3 conv(s) leave nothing of {observation_shape[0]}x"
                         f"{observation_shape[1]} images (use --conv-padding same or fewer --conv-channels)")


PADDINGS = ("same", "valid")  # of patches_3x3 / Conv3x3 / ConvTorso


def patches_3x3(images: jax.Array, padding: str = "same") -> jax.Array:
    """``[N, H, W, C] -> [N, H', W', 9 C]``: each output pixel's 3x3 neighbourhood, ordered row, column,
    channel like a ``[3, 3, C, F]`` kernel reshaped to ``[9 C, F]``. ``"same"``: every pixel, zero beyond
    the edge (``H' = H``); ``"valid"``: only pixels whose neighbourhood lies inside (``H' = H - 2``)."""
    if padding == "same":
        images = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    height, width = images.shape[1] - 2, images.shape[2] - 2
    return jnp.concatenate([images[:, row:row + height, col:col + width] for row in range(3) for col in range(3)],
                           axis=-1)


class Conv3x3(nn.Module):
    """A 3x3, stride-1 convolution computed as one matrix product over the pixels' neighbourhoods:
    ``[N, H, W, C] -> [N, H', W', features]`` (``padding`` as in :func:`patches_3x3`).

    Why not ``nn.Conv``: on XLA:CPU a convolution with MinAtar's few channels takes 6-7x longer than
    this product per gradient step, with one seed or several vmapped, where it becomes a grouped
    convolution (``benchmarks/conv_speed.py``: batch 128 of 10x10x4 images to 16 channels).
    Parameters are ``nn.Conv``'s (``kernel [3, 3, C, features]``, ``bias``, same initialisers), so
    checkpoints and initial values are unchanged; outputs agree to float rounding (~1e-6).
    """

    features: int
    padding: str = "same"

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        channels = images.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return patches_3x3(images, self.padding) @ kernel.reshape(9 * channels, self.features) + bias


class ConvTorso(nn.Module):
    """``[..., H * W * C] -> [..., H' * W' * channels[-1]]``: 3x3 convolutions (stride 1, ReLU), one per
    entry of ``channels``; with ``layer_norm``, each conv's output is normalised over its channels (at
    every pixel) before the ReLU, as PQN's MinAtar network does. ``padding="same"`` keeps ``H x W``;
    ``"valid"`` (MinAtar's and purejaxql's networks) loses 2 rows and columns per conv, so a 10x10 grid
    leaves 8x8 maps and the layer after the torso 36% fewer inputs."""

    channels: Sequence[int]
    observation_shape: tuple[int, int, int]
    layer_norm: bool = False
    padding: str = "same"

    @nn.compact
    def __call__(self, flat: jax.Array) -> jax.Array:
        batch_shape = flat.shape[:-1]
        x = flat.reshape((math.prod(batch_shape), *self.observation_shape))
        for index, features in enumerate(self.channels):
            x = Conv3x3(features, self.padding, name=f"Conv_{index}")(x)
            if self.layer_norm:
                x = nn.LayerNorm(name=f"norm_{index}")(x)
            x = nn.relu(x)
        return x.reshape((*batch_shape, -1))


class ConvMLP(nn.Module):
    """:class:`ConvTorso` then :class:`~jaxrl.nets.mlp.MLP`: ``[..., H * W * C] -> [..., hidden_sizes[-1]]``."""

    channels: Sequence[int]
    observation_shape: tuple[int, int, int]
    hidden_sizes: Sequence[int]
    activation: str = "relu"
    gain: float = 2.0**0.5

    @nn.compact
    def __call__(self, flat: jax.Array) -> jax.Array:
        features = ConvTorso(self.channels, self.observation_shape)(flat)
        return MLP(self.hidden_sizes, self.activation, self.gain)(features)
