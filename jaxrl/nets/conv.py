"""A small convolutional torso for image-shaped observations ``[H, W, C]`` (MinAtar's
``[10, 10, C]``), placed before an MLP. The agents hand their networks flat observations
``[..., H * W * C]``; the torso restores the image shape, convolves and flattens again."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxrl.nets.mlp import MLP


def check_image_observations(channels: Sequence[int], observation_shape: tuple[int, ...]) -> None:
    """``ValueError`` in one line when a conv torso is asked for observations that are not ``[H, W, C]``."""
    if channels and len(observation_shape) != 3:
        raise ValueError(f"conv_channels needs image observations [H, W, C]; this env's are {observation_shape} "
                         "(drop --conv-channels)")


class ConvTorso(nn.Module):
    """``[..., H * W * C] -> [..., H * W * channels[-1]]``: 3x3 convolutions (stride 1, same
    padding, ReLU), one per entry of ``channels``; with ``layer_norm``, each conv's output is
    normalised over its channels (at every pixel) before the ReLU, as PQN's MinAtar network does."""

    channels: Sequence[int]
    observation_shape: tuple[int, int, int]
    layer_norm: bool = False

    @nn.compact
    def __call__(self, flat: jax.Array) -> jax.Array:
        batch_shape = flat.shape[:-1]
        x = flat.reshape((math.prod(batch_shape), *self.observation_shape))
        for index, features in enumerate(self.channels):
            x = nn.Conv(features, (3, 3), padding="SAME", name=f"Conv_{index}")(x)
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
