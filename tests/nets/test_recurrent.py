"""LSTM and GRU stacks: scanning equals stepping, a reset equals a fresh carry, no gradient crosses a reset."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.nets.cells import GATES, CellWeights, scan_layer
from jaxrl.nets.recurrent import CELLS, RecurrentStack
from jaxrl.nets.recurrent import zero_carry as any_zero_carry

T, B, F, H = 7, 3, 4, 5
pytestmark = pytest.mark.parametrize("cell", CELLS)


@pytest.fixture
def zero_carry(cell):
    return functools.partial(any_zero_carry, cell=cell)


@pytest.fixture
def setup(cell, zero_carry):
    def build(layers=2):
        net = RecurrentStack(H, layers, cell)
        x = jax.random.normal(jax.random.PRNGKey(0), (T, B, F))
        params = net.init(jax.random.PRNGKey(1), zero_carry(layers, B, H), x, jnp.zeros((T, B), bool))
        return net, params, x
    return build


def test_the_carry_has_the_cells_shape(cell, zero_carry, setup):
    net, params, x = setup()
    carry, _ = net.apply(params, zero_carry(2, B, H), x, jnp.zeros((T, B), bool))
    shapes = [leaf.shape for leaf in jax.tree.leaves(carry)]
    assert shapes == [(B, H)] * (4 if cell == "lstm" else 2)  # (c, h) per layer, or h


def test_scan_equals_stepping_one_step_at_a_time(zero_carry, setup):
    net, params, x = setup()
    starts = jnp.zeros((T, B), bool).at[4, 1].set(True)
    carry, scanned = net.apply(params, zero_carry(2, B, H), x, starts)
    step_carry, outputs = zero_carry(2, B, H), []
    for t in range(T):
        step_carry, y = net.apply(params, step_carry, x[t:t + 1], starts[t:t + 1])
        outputs.append(y[0])
    np.testing.assert_allclose(scanned, jnp.stack(outputs), rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), carry, step_carry)


def test_reset_gives_exactly_the_output_of_a_fresh_carry(zero_carry, setup):
    net, params, x = setup()
    starts = jnp.zeros((T, B), bool).at[3].set(True)
    _, with_reset = net.apply(params, zero_carry(2, B, H), x, starts)
    _, fresh = net.apply(params, zero_carry(2, B, H), x[3:], jnp.zeros((T - 3, B), bool))
    # the input projection of a shorter sequence may round differently in the last bit
    np.testing.assert_allclose(with_reset[3:], fresh, rtol=1e-6, atol=1e-7)
    # and a non-zero carry before the reset makes no difference at all after it
    busy = jax.tree.map(lambda c: c + 3.0, zero_carry(2, B, H))
    _, from_busy = net.apply(params, busy, x, starts)
    assert not np.allclose(from_busy[:3], with_reset[:3])
    np.testing.assert_array_equal(from_busy[3:], with_reset[3:])


def test_equals_flax_cells_stepped_layer_by_layer(cell, zero_carry, setup):
    """The fused recurrence gives flax's OptimizedLSTMCell / GRUCell outputs on the same parameters."""
    net, params, x = setup()
    starts = jnp.zeros((T, B), bool).at[2, 0].set(True).at[5].set(True)
    carry, scanned = net.apply(params, zero_carry(2, B, H), x, starts)
    flax_cell = nn.OptimizedLSTMCell(H) if cell == "lstm" else nn.GRUCell(H)
    layer_carries, inputs = list(zero_carry(2, B, H)), x
    for layer in range(2):
        layer_params = {"params": params["params"][f"layer_{layer}"]["cell"]}
        outputs = []
        for t in range(T):
            reset = jax.tree.map(lambda c: jnp.where(starts[t][:, None], 0.0, c), layer_carries[layer])
            layer_carries[layer], y = flax_cell.apply(layer_params, reset, inputs[t])
            outputs.append(y)
        inputs = jnp.stack(outputs)
    np.testing.assert_allclose(scanned, inputs, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), carry, tuple(layer_carries))


def test_gradients_flow_back_through_time_but_not_across_a_reset(zero_carry, setup):
    net, params, x = setup(layers=1)

    def last_output(inputs, starts):
        _, y = net.apply(params, zero_carry(1, B, H), inputs, starts)
        return jnp.sum(y[-1])

    no_reset = jax.grad(last_output)(x, jnp.zeros((T, B), bool))
    assert float(jnp.abs(no_reset[0]).sum()) > 0  # the first step of the sequence is reached
    starts = jnp.zeros((T, B), bool).at[4].set(True)
    across = jax.grad(last_output)(x, starts)
    assert float(jnp.abs(across[:4]).sum()) == 0.0  # nothing flows back past the episode start
    assert float(jnp.abs(across[4]).sum()) > 0


@pytest.mark.parametrize("steps", [T, 2])  # 2: as many steps as stacks, so no shape tells them apart
@pytest.mark.parametrize("layers", [1, 2])
def test_projecting_first_gives_the_same_values_and_gradients(cell, steps, layers):
    """The accelerator path (inputs projected before the loop, written-out backward pass) against the
    CPU path (projection inside the loop, JAX's own gradient), for two stacks of one or two layers,
    a reset and a busy carry."""
    stacks, gates = 2, len(GATES[cell])
    keys = jax.random.split(jax.random.PRNGKey(0), 6)
    weights = CellWeights(jax.random.normal(keys[0], (stacks, F, gates * H)),
                          jax.random.normal(keys[1], (stacks, gates * H)),
                          0.5 * jax.random.normal(keys[2], (stacks, H, gates * H)),
                          jax.random.normal(keys[3], (stacks, H)))
    x = jax.random.normal(keys[4], (steps, B, F))
    starts = jnp.zeros((steps, B), bool).at[steps // 2, 1].set(True).at[0, 2].set(True)
    busy = jax.random.normal(keys[5], (stacks, B, H))
    carry = (busy, 0.5 * busy) if cell == "lstm" else busy
    upper = CellWeights(0.5 * jax.random.normal(keys[0], (stacks, H, gates * H)), weights.bias,
                        weights.hidden_kernel, weights.candidate_bias)

    def loss(weights, carry, x, project_first):
        final, outputs = scan_layer(cell, weights, carry, x, starts, project_first)
        if layers == 2:  # the layer above reads each stack's own outputs [T, S, B, H]
            final, outputs = scan_layer(cell, upper, final, outputs, starts, project_first)
        return jnp.sum(jnp.sin(outputs)) + sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(final))

    in_loop = jax.value_and_grad(loss, argnums=(0, 1, 2))(weights, carry, x, False)
    first = jax.value_and_grad(loss, argnums=(0, 1, 2))(weights, carry, x, True)
    np.testing.assert_allclose(first[0], in_loop[0], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), first[1], in_loop[1])
    assert float(jnp.abs(first[1][0].hidden_kernel).sum()) > 0


def test_an_unknown_cell_is_named_in_one_line(cell, zero_carry):
    misspelt = cell.upper()
    with pytest.raises(ValueError, match=rf"^cell must be one of \['gru', 'lstm'\], got '{misspelt}'"):
        RecurrentStack(H, 1, misspelt).init(jax.random.PRNGKey(0), zero_carry(1, B, H), jnp.zeros((T, B, F)),
                                            jnp.zeros((T, B), bool))
