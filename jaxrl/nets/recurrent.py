"""Recurrent stacks (LSTM or GRU) scanned over time-major sequences with a per-step reset,
and the recurrent actor-critic built on them.

The carry is explicit: every call takes the carry in and hands the new one back;
no hidden state lives in a module. Where ``episode_start[t]`` is set, the carry is
replaced by the initial (zero) carry *before* step ``t`` is processed, so a reset
inside a sequence gives exactly the output of a fresh carry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.core.platform import scan_unroll
from jaxrl.nets.init import orthogonal
from jaxrl.nets.mlp import MLP, PolicyValueHeads

CELLS = ("lstm", "gru")
# Per layer: LSTM a (cell, hidden) pair of ``[B, hidden_size]`` arrays, GRU one ``[B, hidden_size]`` array.
RecurrentCarry = tuple[Any, ...]


def zero_carry(num_layers: int, batch_size: int, hidden_size: int, cell: str = "lstm") -> RecurrentCarry:
    """The initial carry: zeros ``[B, hidden_size]`` for every layer's state(s)."""
    zeros = jnp.zeros((batch_size, hidden_size), jnp.float32)
    return tuple((zeros, zeros) if cell == "lstm" else zeros for _ in range(num_layers))


class _ResettingCell(nn.Module):
    """One recurrent step that first resets the carry of envs whose episode starts."""

    hidden_size: int
    cell: str = "lstm"

    @nn.compact
    def __call__(self, carry, inputs):
        x, episode_start = inputs
        carry = jax.tree.map(lambda c: jnp.where(episode_start[:, None], 0.0, c), carry)
        if self.cell == "lstm":
            step = nn.OptimizedLSTMCell(self.hidden_size, recurrent_kernel_init=orthogonal(), name="cell")
        else:
            step = nn.GRUCell(self.hidden_size, recurrent_kernel_init=orthogonal(), name="cell")
        return step(carry, x)


class RecurrentStack(nn.Module):
    """Stacked recurrent layers: ``(carry, x [T, B, F], episode_start [T, B]) -> (carry, y [T, B, hidden_size])``
    as one ``lax.scan``; :meth:`step` is one time step of every layer (what the scan body runs)."""

    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "lstm"

    def setup(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        self.layers = [_ResettingCell(self.hidden_size, self.cell, name=f"layer_{i}") for i in range(self.num_layers)]

    def step(self, carry: RecurrentCarry, x: jax.Array, episode_start: jax.Array) -> tuple[RecurrentCarry, jax.Array]:
        """One step: ``x [B, F]``, ``episode_start [B]`` -> (carry, ``y [B, hidden_size]``)."""
        new_carry = []
        for layer, cell in enumerate(self.layers):
            layer_carry, x = cell(carry[layer], (x, episode_start))
            new_carry.append(layer_carry)
        return tuple(new_carry), x

    def __call__(self, carry: RecurrentCarry, x: jax.Array, episode_start: jax.Array
                 ) -> tuple[RecurrentCarry, jax.Array]:
        carries, ys = scan_stacks(self, lambda stack: {"stack": stack}, {"stack": carry}, x, episode_start)
        return carries["stack"], ys["stack"]


def _step_stacks(owner: nn.Module, carries, inputs, stacks_of):
    x, episode_start = inputs
    outs = {name: stack.step(carries[name], x, episode_start) for name, stack in stacks_of(owner).items()}
    return {name: out[0] for name, out in outs.items()}, {name: out[1] for name, out in outs.items()}


def scan_stacks(owner: nn.Module, stacks_of: Callable[[nn.Module], dict[str, RecurrentStack]],
                carries: dict[str, RecurrentCarry], x: jax.Array, episode_start: jax.Array
                ) -> tuple[dict[str, RecurrentCarry], dict[str, jax.Array]]:
    """Run the stacks ``stacks_of(owner)`` (``owner``'s submodules, by name) over the same inputs
    ``x [T, B, F]`` in ONE ``lax.scan``: the actor's and the critic's cells step together, one loop
    whose body holds both cells' work (faster than a scan each). Returns the new carries and the
    outputs ``[T, B, hidden]`` by name."""
    scan = nn.scan(functools.partial(_step_stacks, stacks_of=stacks_of), variable_broadcast="params",
                   split_rngs={"params": False}, in_axes=0, out_axes=0, unroll=scan_unroll())
    return scan(owner, carries, (x, episode_start))


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
        new_carry, features = scan_stacks(self, lambda owner: owner.lstm, {name: carry[name] for name in self.lstm},
                                          obs, episode_start)
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
