"""MLP trunks and the feed-forward actor-critic, with orthogonal initialisation.

Gains are parameters, so both common recipes are one config away:
CleanRL's ``sqrt(2) / 0.01 / 1.0`` (hidden / policy head / value head) and the
``0.5 / 0.01 / 0.1`` of one of the designs jaxrl started from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.config import not_one_of
from jaxrl.nets.init import orthogonal
from jaxrl.nets.products import dense_dot_general

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
}


def activation_by_name(name: str) -> Callable[[jax.Array], jax.Array]:
    """Look up an activation, with an error that lists the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(not_one_of("activation", name, ACTIVATIONS))
    return ACTIVATIONS[name]


def dense(features: int, gain: float, name: str | None = None) -> nn.Dense:
    """Dense layer with orthogonal(gain) kernel and zero bias."""
    return nn.Dense(features, kernel_init=orthogonal(gain), bias_init=nn.initializers.zeros, name=name,
                    dot_general=dense_dot_general)


class MLP(nn.Module):
    """Hidden layers only: ``[..., in] -> [..., hidden_sizes[-1]]`` (identity if no layers);
    ``layer_norm`` normalises each layer before its activation (parameters named ``LayerNorm_i``;
    without it the parameter tree is the plain MLP's)."""

    hidden_sizes: Sequence[int]
    activation: str = "tanh"
    gain: float = 2.0**0.5
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_by_name(self.activation)
        for size in self.hidden_sizes:
            x = dense(size, self.gain)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        return x


class PolicyValueHeads(nn.Module):
    """Base of the actor-critic modules: the policy and value heads and the Gaussian log-std.

    Subclasses call :meth:`setup_heads` in ``setup``; the parameters stay top-level
    (``policy_head``, ``value_head``, ``log_std``) so optimizers can group them by name.
    """

    action_dim: int
    continuous: bool
    hidden_gain: float = 2.0**0.5
    policy_gain: float = 0.01
    value_gain: float = 1.0
    log_std_init: float = 0.0
    trainable_log_std: bool = True

    def setup_heads(self) -> None:
        self.policy_head = dense(self.action_dim, self.policy_gain, name="policy_head")
        self.value_head = dense(1, self.value_gain, name="value_head")
        if self.continuous and self.trainable_log_std:
            self.log_std_param = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )

    def heads(self, actor_features: jax.Array, critic_features: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(policy_out [..., action_dim], value [...])`` from the two feature streams."""
        if self.continuous:
            _ = self.log_std()  # so that init creates the parameter
        return self.policy_head(actor_features), self.value_head(critic_features)[..., 0]

    def log_std(self) -> jax.Array:
        """``[action_dim]`` state-independent log-std (a constant when not trainable)."""
        if self.trainable_log_std:
            return self.log_std_param
        return jnp.full((self.action_dim,), self.log_std_init, jnp.float32)


class ActorCritic(PolicyValueHeads):
    """Policy-distribution parameters and state value from flat observations.

    ``__call__(obs [..., obs_dim]) -> (policy_out [..., action_dim], value [...])``, where
    ``policy_out`` is logits (discrete) or the Gaussian mean (continuous). The
    Gaussian's log-std is read with :meth:`log_std`.
    """

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_trunk: bool = False
    conv_channels: Sequence[int] = ()  # a conv torso before each trunk (image observations), see nets/conv.py
    observation_shape: tuple[int, ...] = ()  # needed with conv_channels
    conv_kernels: Sequence[int] = ()  # the convs' kernel sizes (empty: 3 each)
    conv_strides: Sequence[int] = ()  # the convs' strides (empty: 1 each)
    conv_padding: str = "same"  # or "valid"
    # Asymmetric critic: the actor reads the first policy_size entries of obs, the critic all of them
    # (the env's privileged observation included). None: both read all of obs.
    policy_size: int | None = None
    # The critic trunk's own sizes (brax's PPO: a 32x4 policy, a 256x5 value net); () = hidden_sizes.
    critic_hidden_sizes: Sequence[int] = ()

    def setup(self) -> None:
        def trunk(name: str, hidden_sizes: Sequence[int]) -> nn.Module:
            if not self.conv_channels:  # the parameter tree stays the plain MLP's
                return MLP(hidden_sizes, self.activation, self.hidden_gain, name=name)
            from jaxrl.nets.conv import ConvMLP  # conv.py builds on this module

            return ConvMLP(self.conv_channels, self.observation_shape, hidden_sizes, self.activation,
                           self.hidden_gain, self.conv_padding, self.conv_kernels, self.conv_strides, name=name)

        if self.shared_trunk:
            self.actor_trunk = trunk("trunk", self.hidden_sizes)
            self.critic_trunk = self.actor_trunk
        else:
            self.actor_trunk = trunk("actor_trunk", self.hidden_sizes)
            self.critic_trunk = trunk("critic_trunk", self.critic_hidden_sizes or self.hidden_sizes)
        self.setup_heads()

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        policy_obs = obs if self.policy_size is None else obs[..., : self.policy_size]
        return self.heads(self.actor_trunk(policy_obs), self.critic_trunk(obs))

    def value(self, obs: jax.Array) -> jax.Array:
        """``[...]`` state value only (no actor forward pass)."""
        return self.value_head(self.critic_trunk(obs))[..., 0]
