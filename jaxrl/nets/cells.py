"""LSTM and GRU recurrences as pure functions, with the parallel work taken out of the time loop.

Several stacks (the actor's and the critic's) run in the same time loop, their weights stacked
on a leading axis ``S``. On an accelerator (:func:`recur`) a layer's input projection
``x_t W_x + b``, which does not depend on the carry, is computed for the whole sequence in one
matrix product before the loop, each step is one batched ``h_{t-1} W_h`` for all stacks plus the
gate arithmetic, and the backward loop is written out to hold only the sequential work. On
XLA:CPU the projection stays inside the loop and each stack's products are plain 2-D ones
(:func:`scan_layer`), which measured faster there.

The gate equations are flax's ``OptimizedLSTMCell`` (gates i, f, g, o; carry ``(c, h)``) and
``GRUCell`` (gates r, z, n; carry ``h``; ``n = tanh(x W_xn + b_xn + r * (h W_hn + b_hn))``), and the
weights are theirs (see :class:`CellWeights`), so a checkpoint written with flax's cells loads.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.core import platform

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


class CellWeights(NamedTuple):
    """One layer's weights, gates concatenated on the last axis (``G`` gates of width ``H``).

    ``input_kernel [F, G*H]``; ``bias [G*H]``, the bias that can be added before the loop
    (LSTM: all of it; GRU: the input biases); ``hidden_kernel [H, G*H]``; ``candidate_bias [H]``,
    the GRU's hidden bias of the candidate gate ``n``, which the reset gate multiplies (zeros for
    an LSTM). A leading axis ``S`` on every leaf stacks several layers run side by side."""

    input_kernel: jax.Array
    bias: jax.Array
    hidden_kernel: jax.Array
    candidate_bias: jax.Array


def stack_weights(weights: list[CellWeights]) -> CellWeights:
    """``S`` layers' weights -> one :class:`CellWeights` with a leading axis ``S``."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *weights)


def project_inputs(weights: CellWeights, x: jax.Array, shared: bool) -> jax.Array:
    """``x W_x + b`` ``[..., S, B, G*H]`` of ``x [..., B, F]`` that every stack reads (``shared``: the
    first layer's observations) or of ``x [..., S, B, F]``, each stack its own (the layers above)."""
    if shared and weights.input_kernel.shape[0] == 1 and x.ndim == 2:  # one stack, one step: a 2-D product
        return (x @ weights.input_kernel[0] + weights.bias[0])[None]
    equation = "...bf,sfk->...sbk" if shared else "...sbf,sfk->...sbk"
    return jnp.einsum(equation, x, weights.input_kernel) + weights.bias[:, None, :]


def lstm_gates(carry: tuple[jax.Array, jax.Array], projected: jax.Array, recurrent: jax.Array,
               candidate_bias: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The LSTM's elementwise part: ``carry = (c, h)`` ``[S, B, H]``, ``projected`` (``x W_x + b``) and
    ``recurrent`` (``h W_h``) ``[S, B, 4H]`` -> the new ``(c, h)``. (``candidate_bias``: unused.)"""
    c, _ = carry
    i, f, g, o = jnp.split(projected + recurrent, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return c, jax.nn.sigmoid(o) * jnp.tanh(c)


def gru_gates(h: jax.Array, projected: jax.Array, recurrent: jax.Array, candidate_bias: jax.Array) -> jax.Array:
    """The GRU's elementwise part: ``h [S, B, H]``, ``projected``/``recurrent`` ``[S, B, 3H]``,
    ``candidate_bias [S, H]`` -> the new ``h``."""
    x_r, x_z, x_n = jnp.split(projected, 3, axis=-1)
    h_r, h_z, h_n = jnp.split(recurrent, 3, axis=-1)
    r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * (h_n + candidate_bias[:, None, :]))
    return (1.0 - z) * n + z * h


GATE_FUNCTIONS = {"lstm": lstm_gates, "gru": gru_gates}


def hidden_state(cell: str, carry):
    """The part of the carry that is the layer's output and enters ``h W_h``: LSTM ``h``, GRU the carry."""
    return carry[1] if cell == "lstm" else carry


def _add_to_hidden(cell: str, carry, delta: jax.Array):
    """``carry`` with ``delta`` added to its hidden state (LSTM: ``h`` of ``(c, h)``; GRU: the carry)."""
    return (carry[0], carry[1] + delta) if cell == "lstm" else carry + delta


def _reset(carry, starts: jax.Array):
    """Zero the carry ``[S, B, H]`` of the envs whose episode starts (``starts [B]``)."""
    return jax.tree.map(lambda c: jnp.where(starts[None, :, None], 0.0, c), carry)


def _recurrent_product(h: jax.Array, hidden_kernel: jax.Array) -> jax.Array:
    """``h [S, B, H]`` times ``hidden_kernel [S, H, G*H]``: every stack's ``h W_h`` in one batched product."""
    if hidden_kernel.shape[0] == 1:  # a plain 2-D product: XLA:CPU runs it faster than a batch of one
        return (h[0] @ hidden_kernel[0])[None]
    return jnp.einsum("sbh,shk->sbk", h, hidden_kernel)


def _step(cell: str, weights: CellWeights, carry, projected: jax.Array, starts: jax.Array):
    """One time step from the previous carry: reset, ``h W_h``, gates. Returns ``(carry, h W_h, carry in)``."""
    carry_in = _reset(carry, starts)
    recurrent = _recurrent_product(hidden_state(cell, carry_in), weights.hidden_kernel)
    return GATE_FUNCTIONS[cell](carry_in, projected, recurrent, weights.candidate_bias), recurrent, carry_in


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def recur(cell: str, weights: CellWeights, carry, projected: jax.Array, starts: jax.Array):
    """The time loop of a layer whose inputs are already projected: ``projected [T, S, B, G*H]``,
    ``starts [T, B]`` -> ``(carry, outputs [T, S, B, H])``.

    Its gradient is written out (:func:`_recur_backward`) so that the backward loop holds only the
    sequential work: ``dW_h = sum_t h_{t-1}^T d(h W_h)_t`` is one product over the whole sequence
    after the loop instead of a product and an accumulation inside every step.
    ``weights.input_kernel`` and ``weights.bias`` are not used here (zero gradient)."""
    return _recur_forward(cell, weights, carry, projected, starts)[0]


def _recur_forward(cell: str, weights: CellWeights, carry, projected: jax.Array, starts: jax.Array):
    def body(carry, inputs):
        carry, recurrent, carry_in = _step(cell, weights, carry, *inputs)
        return carry, (hidden_state(cell, carry), recurrent, carry_in)

    carry, (outputs, recurrents, carries_in) = jax.lax.scan(body, carry, (projected, starts),
                                                            unroll=platform.recurrent_scan_unroll(len(starts)))
    return (carry, outputs), (weights, projected, starts, recurrents, carries_in)


def _recur_backward(cell: str, residuals, cotangents):
    weights, projected, starts, recurrents, carries_in = residuals
    d_final_carry, d_outputs = cotangents
    gates = GATE_FUNCTIONS[cell]

    def body(d_carry, inputs):
        d_output, carry_in, projected_t, recurrent_t, starts_t = inputs
        _, gates_vjp = jax.vjp(gates, carry_in, projected_t, recurrent_t, weights.candidate_bias)
        d_carry_in, d_projected, d_recurrent, d_candidate_bias = gates_vjp(_add_to_hidden(cell, d_carry, d_output))
        d_h = jnp.einsum("sbk,shk->sbh", d_recurrent, weights.hidden_kernel)
        return _reset(_add_to_hidden(cell, d_carry_in, d_h), starts_t), (d_projected, d_recurrent, d_candidate_bias)

    inputs = (d_outputs, carries_in, projected, recurrents, starts)
    d_carry, (d_projected, d_recurrents, d_candidate_biases) = jax.lax.scan(
        body, d_final_carry, inputs, reverse=True, unroll=platform.recurrent_scan_unroll(len(starts)))
    d_hidden_kernel = jnp.einsum("tsbh,tsbk->shk", hidden_state(cell, carries_in), d_recurrents)
    d_weights = CellWeights(jnp.zeros_like(weights.input_kernel), jnp.zeros_like(weights.bias), d_hidden_kernel,
                            d_candidate_biases.sum(0))
    return d_weights, d_carry, d_projected, None


recur.defvjp(_recur_forward, _recur_backward)


def scan_layer(cell: str, weights: CellWeights, carry, x: jax.Array, episode_start: jax.Array,
               project_first: bool = False):
    """One layer of ``S`` stacks over a sequence, resetting the carry to zeros where an episode starts.

    ``weights``: leaves with a leading ``S``; ``carry``: LSTM ``(c, h)``, GRU ``h``, each ``[S, B, H]``;
    ``x [T, B, F]`` or ``[T, S, B, F]``; ``episode_start [T, B]`` (the reset comes before step ``t``).
    ``project_first``: compute ``x W_x + b`` for every step in one product before the loop instead of
    inside it (see :func:`jaxrl.core.platform.project_inputs_first`). Returns
    ``(carry, outputs h_t [T, S, B, H])``.
    """
    shared_input = x.ndim == 3  # [T, B, F]: the first layer, every stack reads the same input
    if project_first:
        return recur(cell, weights, carry, project_inputs(weights, x, shared_input), episode_start)

    # One stack at a time inside the step, as plain 2-D products (faster than the batched ones on
    # XLA:CPU): carries and weights are lists over ``S``.
    stacks = range(weights.hidden_kernel.shape[0])
    per_stack = [jax.tree.map(lambda w: w[s, None], weights) for s in stacks]

    def body(carries, inputs):
        x_t, starts = inputs
        stack_inputs = [x_t if shared_input else x_t[s] for s in stacks]  # each [B, F]
        carries = [_step(cell, per_stack[s], carries[s], project_inputs(per_stack[s], stack_inputs[s], True),
                         starts)[0] for s in stacks]
        return carries, jnp.concatenate([hidden_state(cell, c) for c in carries])

    carries = [jax.tree.map(lambda c: c[s, None], carry) for s in stacks]
    carries, outputs = jax.lax.scan(body, carries, (x, episode_start),
                                    unroll=platform.recurrent_scan_unroll(len(episode_start)))
    return jax.tree.map(lambda *c: jnp.concatenate(c), *carries), outputs
