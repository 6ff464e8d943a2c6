"""A Q-network over discrete actions: an MLP with optional LayerNorm, one output per action."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxrl.nets.mlp import activation_by_name, dense


class DiscreteQNetwork(nn.Module):
    """``features [..., F] -> Q [..., num_actions]`` (image observations are flattened by the caller).

    LayerNorm after each hidden layer is what lets PQN learn without a target network
    (Gallici et al., 2024).
    """

    num_actions: int
    hidden_sizes: Sequence[int]
    activation: str = "relu"
    layer_norm: bool = True
    hidden_gain: float = 2.0**0.5
    conv_channels: Sequence[int] = ()  # a conv torso first (image observations), see nets/conv.py
    observation_shape: tuple[int, ...] = ()  # needed with conv_channels
    conv_layer_norm: bool = False  # LayerNorm after each conv layer too (PQN's MinAtar network)
    conv_padding: str = "same"  # or "valid" (8x8 maps from MinAtar's 10x10), see nets/conv.py
    conv_kernels: Sequence[int] = ()  # the convs' kernel sizes (empty: 3 each)
    conv_strides: Sequence[int] = ()  # the convs' strides (empty: 1 each)

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs
        if self.conv_channels:
            from jaxrl.nets.conv import ConvTorso  # conv.py builds on nets/mlp.py, as this module does

            x = ConvTorso(self.conv_channels, self.observation_shape, self.conv_layer_norm, self.conv_padding,
                          self.conv_kernels, self.conv_strides, name="conv")(x)
        act = activation_by_name(self.activation)
        for index, size in enumerate(self.hidden_sizes):
            x = dense(size, self.hidden_gain, name=f"dense_{index}")(x)
            if self.layer_norm:
                x = nn.LayerNorm(name=f"norm_{index}")(x)
            x = act(x)
        return dense(self.num_actions, 1.0, name="q_head")(x)
