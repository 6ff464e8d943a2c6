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
                             padding: str = "same", kernels: Sequence[int] = (), strides: Sequence[int] = ()) -> None:
    """``ValueError`` in one line when a conv torso is asked for observations that are not ``[H, W, C]``,
    or too small for its convs."""
    if not channels:
        return
    if len(observation_shape) != 3:
        raise ValueError(f"conv_channels needs image observations [H, W, C]; this env's are {observation_shape} "
                         "(drop --conv-channels)")
    if min(conv_output_size(observation_shape[:2], len(channels), padding, kernels, strides)) < 1:
        raise ValueError(f"the {len(channels)} {padding}-padded conv(s) leave nothing of {observation_shape[0]}x"
                         f"{observation_shape[1]} images (use --conv-padding same or fewer --conv-channels)")


def conv_output_size(size: Sequence[int], layers: int, padding: str, kernels: Sequence[int] = (),
                     strides: Sequence[int] = ()) -> tuple[int, ...]:
    """Height and width of the maps ``layers`` convs leave of ``size`` (kernels 3 and strides 1 where
    ``kernels`` / ``strides`` are empty), as XLA computes them."""
    for index in range(layers):
        kernel, stride = layer_geometry(index, kernels, strides)
        size = tuple(-(-side // stride) if padding == "same" else (side - kernel) // stride + 1 for side in size)
    return tuple(size)


def layer_geometry(index: int, kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """Conv ``index``'s kernel size and stride: 3 and 1 unless the lists give them."""
    return (kernels[index] if kernels else 3), (strides[index] if strides else 1)


PADDINGS = ("same", "valid")  # of patches / ConvProduct / ConvTorso


def patches(images: jax.Array, kernel: int = 3, stride: int = 1, padding: str = "same") -> jax.Array:
    """``[N, H, W, C] -> [N, H', W', kernel * kernel * C]``: the ``kernel x kernel`` neighbourhood of each
    output pixel, every ``stride``-th, ordered row, column, channel like a ``[k, k, C, F]`` kernel reshaped
    to ``[k k C, F]``. ``"valid"``: only neighbourhoods inside the image (``H' = (H - k) // stride + 1``);
    ``"same"``: ``H' = ceil(H / stride)``, zeros beyond the edge, split as XLA splits them (the extra
    row or column after). Slices, not a convolution, so that the gradient is slices too."""
    sides = images.shape[1:3]
    height, width = conv_output_size(sides, 1, padding, (kernel,), (stride,))
    if padding == "same":  # as lax.padtype_to_pads splits the zeros: the odd one after
        totals = [max((out - 1) * stride + kernel - side, 0) for side, out in zip(sides, (height, width))]
        images = jnp.pad(images, ((0, 0), *[(total // 2, total - total // 2) for total in totals], (0, 0)))
    rows, cols = stride * (height - 1) + 1, stride * (width - 1) + 1  # the span each slice covers
    return jnp.concatenate([images[:, row:row + rows:stride, col:col + cols:stride]
                            for row in range(kernel) for col in range(kernel)], axis=-1)


class ConvProduct(nn.Module):
    """A convolution computed as one matrix product over the output pixels' neighbourhoods:
    ``[N, H, W, C] -> [N, H', W', features]`` (``kernel``, ``stride`` and ``padding`` as in :func:`patches`).

    Why not ``nn.Conv``: on XLA:CPU a convolution with MinAtar's few channels takes 6-7x longer than
    this product per gradient step, with one seed or several vmapped, where it becomes a grouped
    convolution (``benchmarks/conv_speed.py``: batch 128 of 10x10x4 images to 16 channels); and the
    gradient of the Atari torso's strided convolutions inside ``lax.scan`` (PPO's minibatch loop)
    took 3.8 s per 256 84x84x4 images against 0.29 s as products (0.49 s outside a scan).
    Parameters are ``nn.Conv``'s (``kernel [k, k, C, features]``, ``bias``, same initialisers), so
    checkpoints and initial values are unchanged; outputs agree to float rounding (~1e-6).
    """

    features: int
    padding: str = "same"
    kernel: int = 3
    stride: int = 1

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        channels = images.shape[-1]
        shape = (self.kernel, self.kernel, channels, self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        flat_kernel = kernel.reshape(self.kernel * self.kernel * channels, self.features)
        return patches(images, self.kernel, self.stride, self.padding) @ flat_kernel + bias


class ConvTorso(nn.Module):
    """``[..., H * W * C] -> [..., H' * W' * channels[-1]]``: convolutions (ReLU), one per entry of
    ``channels``, 3x3 with stride 1 unless ``kernels`` / ``strides`` say otherwise (the DQN paper's Atari
    torso: channels 32 64 64, kernels 8 4 3, strides 4 2 1, valid); with ``layer_norm``, each conv's
    output is normalised over its channels (at every pixel) before the ReLU, as PQN's MinAtar network
    does. ``padding="same"`` keeps ``H x W`` at stride 1; ``"valid"`` (MinAtar's and purejaxql's
    networks) loses 2 rows and columns per 3x3 conv, so a 10x10 grid leaves 8x8 maps and the layer after
    the torso 36% fewer inputs. Each conv is a :class:`ConvProduct` named ``Conv_<index>``."""

    channels: Sequence[int]
    observation_shape: tuple[int, int, int]
    layer_norm: bool = False
    padding: str = "same"
    kernels: Sequence[int] = ()  # per conv; empty: 3 each
    strides: Sequence[int] = ()  # per conv; empty: 1 each

    @nn.compact
    def __call__(self, flat: jax.Array) -> jax.Array:
        batch_shape = flat.shape[:-1]
        x = flat.reshape((math.prod(batch_shape), *self.observation_shape))
        for index, features in enumerate(self.channels):
            kernel, stride = layer_geometry(index, self.kernels, self.strides)
            x = ConvProduct(features, self.padding, kernel, stride, name=f"Conv_{index}")(x)
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
    padding: str = "same"
    kernels: Sequence[int] = ()  # per conv; empty: 3 each
    strides: Sequence[int] = ()  # per conv; empty: 1 each

    @nn.compact
    def __call__(self, flat: jax.Array) -> jax.Array:
        features = ConvTorso(self.channels, self.observation_shape, padding=self.padding, kernels=self.kernels,
                             strides=self.strides)(flat)
        return MLP(self.hidden_sizes, self.activation, self.gain)(features)
