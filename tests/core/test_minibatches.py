"""The minibatch shuffle: a bijection for every size, uniform positions, no structure left."""

import jax
import numpy as np
import pytest

from jaxrl.core.minibatches import feistel_permutation, shuffled_minibatches


@pytest.mark.parametrize("num_items", [0, 1, 2, 5, 63, 64, 65, 1000, 1024, 4097, 65536])
def test_every_size_is_a_permutation(num_items):
    order = np.asarray(feistel_permutation(jax.random.PRNGKey(num_items), num_items))
    assert order.dtype == np.int32
    np.testing.assert_array_equal(np.sort(order), np.arange(num_items))


def test_keys_give_different_permutations():
    orders = {tuple(np.asarray(feistel_permutation(jax.random.PRNGKey(seed), 1024))) for seed in range(20)}
    assert len(orders) == 20
    assert tuple(range(1024)) not in orders


@pytest.mark.parametrize("num_items", [64, 100, 256])
def test_positions_are_uniform_and_neighbours_split(num_items):
    """Over 2,000 keys each item lands on each position about equally often (a chi-square
    z-score an affine or a too-short Feistel shuffle fails by far), and two items adjacent in
    the batch (consecutive env steps) share a quarter-batch minibatch only by chance."""
    keys = jax.random.split(jax.random.PRNGKey(7), 2000)
    orders = np.asarray(jax.vmap(lambda key: feistel_permutation(key, num_items))(keys))
    counts = np.zeros((num_items, num_items))
    for order in orders:
        counts[order, np.arange(num_items)] += 1
    expected = len(keys) / num_items
    chi_square = ((counts - expected) ** 2 / expected).sum()
    dof = (num_items - 1) ** 2
    assert abs(chi_square - dof) / np.sqrt(2 * dof) < 4
    position = np.argsort(orders, axis=1)
    quarter = position // (num_items // 4)
    same_minibatch = (quarter[:, :-1] == quarter[:, 1:]).mean()
    assert same_minibatch == pytest.approx((num_items // 4 - 1) / (num_items - 1), abs=0.01)


def test_minibatches_keep_rows_together():
    samples = {"x": np.arange(256.0), "pair": np.stack([np.arange(256.0), -np.arange(256.0)], axis=1)}
    batches = jax.tree.map(np.asarray, shuffled_minibatches(jax.random.PRNGKey(0), samples, 4))
    assert batches["x"].shape == (4, 64) and batches["pair"].shape == (4, 64, 2)
    np.testing.assert_array_equal(batches["pair"][..., 0], batches["x"])
    np.testing.assert_array_equal(batches["pair"][..., 1], -batches["x"])
    np.testing.assert_array_equal(np.sort(batches["x"].ravel()), np.arange(256.0))
