"""Networks for continuous-action off-policy agents (DDPG, TD3, SAC).

Actors work in the unit box ``[-1, 1]^D``; the agent maps to the env's bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.nets.init import lifted_members
from jaxrl.nets.mlp import MLP
from jaxrl.nets.products import dense_dot_general


class DeterministicActor(nn.Module):
    """``obs [..., O] -> tanh action [..., D]`` in ``[-1, 1]``."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(self.hidden_sizes, self.activation)(obs)
        return jnp.tanh(nn.Dense(self.action_dim, dot_general=dense_dot_general)(features))


class GaussianActor(nn.Module):
    """``obs [..., O] -> (mean [..., D], log_std [..., D])`` of the pre-tanh Gaussian.

    The log-std is squashed smoothly into ``[log_std_min, log_std_max]``.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = MLP(self.hidden_sizes, self.activation)(obs)
        mean = nn.Dense(self.action_dim, dot_general=dense_dot_general)(features)
        raw = jnp.tanh(nn.Dense(self.action_dim, dot_general=dense_dot_general)(features))
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (raw + 1.0)
        return mean, log_std


class QNetwork(nn.Module):
    """``(obs [..., O], unit action [..., D]) -> Q [...]``, or with ``num_atoms`` > 1 the logits
    ``[..., num_atoms]`` of a categorical return distribution; ``layer_norm``: LayerNorm in every hidden layer."""

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    num_atoms: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        features = MLP(self.hidden_sizes, self.activation, layer_norm=self.layer_norm)(
            jnp.concatenate([obs, actions], axis=-1))
        outputs = nn.Dense(self.num_atoms, dot_general=dense_dot_general)(features)
        return outputs[..., 0] if self.num_atoms == 1 else outputs


ENSEMBLE_AXIS = "jaxrl_q_ensemble"  # the critics' vmapped axis, named for the init's lax.axis_index


class QEnsemble(nn.Module):
    """``num_critics`` independent Q networks: ``(obs, actions) -> Q [num_critics, ...]`` (logits
    ``[num_critics, ..., num_atoms]`` where ``num_atoms`` > 1)."""

    num_critics: int = 2
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    num_atoms: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            QNetwork,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
            axis_name=ENSEMBLE_AXIS,
        )
        with lifted_members(ENSEMBLE_AXIS, self.num_critics):  # each critic its own kernels
            return ensemble(self.hidden_sizes, self.activation, self.layer_norm, self.num_atoms)(obs, actions)
