"""Recurrent stacks (LSTM or GRU) scanned over time-major sequences with a per-step reset,
and the recurrent actor-critic built on them.

The carry is explicit: every call takes the carry in and hands the new one back;
no hidden state lives in a module. Where ``episode_start[t]`` is set, the carry is
replaced by the initial (zero) carry *before* step ``t`` is processed, so a reset
inside a sequence gives exactly the output of a fresh carry.

The modules only own the parameters (named as flax's ``OptimizedLSTMCell``/``GRUCell`` name
them); the recurrence itself is :mod:`jaxrl.nets.cells`, which projects a layer's inputs for
the whole sequence before its time loop and steps the actor's and critic's stacks together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.config import not_one_of
from jaxrl.core import platform
from jaxrl.nets.cells import GATES, CellWeights, scan_layer, stack_weights
from jaxrl.nets.init import orthogonal
from jaxrl.nets.mlp import MLP, PolicyValueHeads

CELLS = tuple(GATES)
# Per layer: LSTM a (cell, hidden) pair of ``[B, hidden_size]`` arrays, GRU one ``[B, hidden_size]`` array.
RecurrentCarry = tuple[Any, ...]


def zero_carry(num_layers: int, batch_size: int, hidden_size: int, cell: str = "lstm") -> RecurrentCarry:
    """The initial carry: zeros ``[B, hidden_size]`` for every layer's state(s)."""
    zeros = jnp.zeros((batch_size, hidden_size), jnp.float32)
    return tuple((zeros, zeros) if cell == "lstm" else zeros for _ in range(num_layers))


class _Dense(nn.Module):
    """A dense map's parameters only, named like ``nn.Dense``'s: ``kernel [F, H]`` (and ``bias [H]``)."""

    features: int
    use_bias: bool
    kernel_init: Callable

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
        kernel = self.param("kernel", self.kernel_init, (in_features, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,)) if self.use_bias else None
        return kernel, bias if bias is not None else jnp.zeros((self.features,), kernel.dtype)


class _CellParams(nn.Module):
    """One cell's parameters as flax's cell of that kind has them (``ii``, ``hi``, ... or ``ir``, ``hr``, ...)."""

    hidden_size: int
    cell: str

    @nn.compact
    def __call__(self, in_features: int) -> CellWeights:
        lstm = self.cell == "lstm"
        input_init, hidden_init = nn.initializers.lecun_normal(), orthogonal()
        inputs = [_Dense(self.hidden_size, not lstm, input_init, name=f"i{g}")(in_features) for g in GATES[self.cell]]
        hiddens = [_Dense(self.hidden_size, lstm or g == "n", hidden_init, name=f"h{g}")(self.hidden_size)
                   for g in GATES[self.cell]]
        concat = lambda arrays: jnp.concatenate(arrays, axis=-1)
        # LSTM: all biases are on the hidden side and can join the input projection; GRU: the
        # input biases can, the candidate's hidden bias sits inside r * (...) and cannot.
        bias = concat([b for _, b in hiddens] if lstm else [b for _, b in inputs])
        candidate_bias = jnp.zeros((self.hidden_size,)) if lstm else hiddens[-1][1]
        return CellWeights(concat([k for k, _ in inputs]), bias, concat([k for k, _ in hiddens]), candidate_bias)


class _Layer(nn.Module):
    hidden_size: int
    cell: str

    @nn.compact
    def __call__(self, in_features: int) -> CellWeights:
        return _CellParams(self.hidden_size, self.cell, name="cell")(in_features)


class RecurrentStack(nn.Module):
    """Stacked recurrent layers: ``(carry, x [T, B, F], episode_start [T, B]) -> (carry, y [T, B, hidden_size])``."""

    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "lstm"

    def setup(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(not_one_of("cell", self.cell, CELLS))
        self.layers = [_Layer(self.hidden_size, self.cell, name=f"layer_{i}") for i in range(self.num_layers)]

    def weights(self, in_features: int) -> list[CellWeights]:
        """Every layer's weights (created at init) for inputs of ``in_features``."""
        return [layer(in_features if i == 0 else self.hidden_size) for i, layer in enumerate(self.layers)]

    def __call__(self, carry: RecurrentCarry, x: jax.Array, episode_start: jax.Array
                 ) -> tuple[RecurrentCarry, jax.Array]:
        carries, ys = scan_stacks([self], [carry], x, episode_start)
        return carries[0], ys[0]


def scan_stacks(stacks: list[RecurrentStack], carries: list[RecurrentCarry], x: jax.Array, episode_start: jax.Array
                ) -> tuple[list[RecurrentCarry], list[jax.Array]]:
    """Run ``stacks`` (same cell, sizes and depth) over the same inputs ``x [T, B, F]``, layer by layer,
    each layer of all stacks in one loop (one batched matrix product per step). Returns each stack's
    new carry and outputs ``[T, B, hidden]``."""
    cell, num_layers = stacks[0].cell, stacks[0].num_layers
    per_stack = [stack.weights(x.shape[-1]) for stack in stacks]
    new_layer_carries, inputs = [], x
    for layer in range(num_layers):
        weights = stack_weights([weights[layer] for weights in per_stack])
        carry = jax.tree.map(lambda *c: jnp.stack(c), *[stack_carry[layer] for stack_carry in carries])
        carry, inputs = scan_layer(cell, weights, carry, inputs, episode_start, platform.project_inputs_first())
        new_layer_carries.append(carry)
    unstack = lambda s: tuple(jax.tree.map(lambda c: c[s], layer_carry) for layer_carry in new_layer_carries)
    return [unstack(s) for s in range(len(stacks))], [inputs[:, s] for s in range(len(stacks))]


class RecurrentActorCritic(PolicyValueHeads):
    """``(carry, obs [T, B, O], episode_start [T, B]) -> (carry, policy_out [T, B, A], value [T, B])``.

    Actor and critic each have a recurrent stack (``cell``: "lstm" or "gru"; carry
    ``{"actor", "critic"}``) or share one (``{"shared"}``); dense layers (``hidden_sizes``,
    ``activation``) follow, then the policy head (logits or Gaussian mean) and the value head.
    """

    lstm_hidden_size: int = 128
    lstm_layers: int = 1
    shared_lstm: bool = False
    hidden_sizes: tuple[int, ...] = (128,)
    activation: str = "elu"
    cell: str = "lstm"

    def carry_names(self) -> tuple[str, ...]:
        return ("shared",) if self.shared_lstm else ("actor", "critic")

    def initial_carry(self, batch_size: int) -> dict[str, RecurrentCarry]:
        return {name: zero_carry(self.lstm_layers, batch_size, self.lstm_hidden_size, self.cell)
                for name in self.carry_names()}

    def setup(self) -> None:
        make_stack = lambda name: RecurrentStack(self.lstm_hidden_size, self.lstm_layers, self.cell, name=name)
        make_dense = lambda name: MLP(self.hidden_sizes, self.activation, self.hidden_gain, name=name)
        if self.shared_lstm:
            self.lstm = {"shared": make_stack("shared_lstm")}
        else:
            self.lstm = {"actor": make_stack("actor_lstm"), "critic": make_stack("critic_lstm")}
        self.actor_dense = make_dense("actor_dense")
        self.critic_dense = make_dense("critic_dense")
        self.setup_heads()

    def __call__(self, carry: dict[str, Any], obs: jax.Array, episode_start: jax.Array):
        names = list(self.lstm)
        carries, features = scan_stacks([self.lstm[name] for name in names], [carry[name] for name in names],
                                        obs, episode_start)
        new_carry, features = dict(zip(names, carries)), dict(zip(names, features))
        actor_features = features["shared" if self.shared_lstm else "actor"]
        critic_features = features["shared" if self.shared_lstm else "critic"]
        policy_out, value = self.heads(self.actor_dense(actor_features), self.critic_dense(critic_features))
        return new_carry, policy_out, value

    def critic_step(self, carry: dict[str, Any], obs: jax.Array) -> jax.Array:
        """Value ``[N]`` of ``obs [N, O]`` continuing from ``carry`` (one step, no reset)."""
        name = "shared" if self.shared_lstm else "critic"
        no_reset = jnp.zeros(obs.shape[:1], bool)
        _, features = self.lstm[name](carry[name], obs[None], no_reset[None])
        return self.value_head(self.critic_dense(features[0]))[..., 0]
