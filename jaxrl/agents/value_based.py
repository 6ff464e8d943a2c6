"""What PQN and DQN share: the Q-network of a config, Q-values of raw observations, the uniform
draws behind epsilon-greedy acting and a Q-network's fresh parameters."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import flat_observations
from jaxrl.core.flat_draws import flat_draw
from jaxrl.nets.conv import check_image_observations
from jaxrl.nets.init import init_in_one_batch
from jaxrl.nets.q import DiscreteQNetwork
from jaxrl.types import EnvSpec


def q_network(config: Any, spec: EnvSpec) -> DiscreteQNetwork:
    """The Q-network of a config with ``hidden_sizes``, ``activation``, ``layer_norm``,
    ``conv_channels``, ``conv_kernels``, ``conv_strides``, ``conv_layer_norm`` and ``conv_padding``."""
    check_image_observations(config.conv_channels, spec.observation_shape, config.conv_padding, config.conv_kernels,
                             config.conv_strides)
    return DiscreteQNetwork(spec.action_dim, tuple(config.hidden_sizes), config.activation, config.layer_norm,
                            conv_channels=tuple(config.conv_channels), observation_shape=spec.observation_shape,
                            conv_layer_norm=config.conv_layer_norm, conv_padding=config.conv_padding,
                            conv_kernels=tuple(config.conv_kernels), conv_strides=tuple(config.conv_strides))


def init_q_params(key: jax.Array, config: Any, spec: EnvSpec) -> Any:
    """Fresh Q-network parameters for flattened observations of ``spec``."""
    return init_in_one_batch(q_network(config, spec).init, key, jnp.zeros((1, spec.policy_size)))["params"]


def q_values(state: Any, params: Any, obs: jax.Array) -> jax.Array:
    """``Q [..., num_actions]`` of raw observations ``[..., *obs_shape]`` (flattened for the MLP)."""
    return q_network(state.config, state.spec).apply({"params": params}, flat_observations(obs, state.spec))


def epsilon_greedy_noise(state: Any, key: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    """``sample_noise`` of an epsilon-greedy agent: uniform draws ``[*batch_shape, 2]``, whether to
    explore and which random action (see :func:`jaxrl.core.noise.epsilon_greedy`)."""
    return flat_draw(jax.random.uniform, key, (*batch_shape, 2))
