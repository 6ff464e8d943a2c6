import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.core.distributional import (
    categorical_support,
    cross_entropy,
    distributional_target,
    expected_values,
    project_onto_support,
)


def numpy_projection(atoms, probs, support):
    """Bellemare et al.'s C51 projection, one atom at a time: split each clipped atom's mass
    between the support atoms below (l) and above (u) it; all of it to l when it lands on one."""
    v_min, v_max, count = support[0], support[-1], len(support)
    spacing = (v_max - v_min) / (count - 1)
    out = np.zeros((atoms.shape[0], count))
    for n in range(atoms.shape[0]):
        for atom, p in zip(atoms[n], probs[n]):
            b = (min(max(atom, v_min), v_max) - v_min) / spacing
            lower, upper = int(np.floor(b)), int(np.ceil(b))
            if lower == upper:
                out[n, lower] += p
            else:
                out[n, lower] += p * (upper - b)
                out[n, upper] += p * (b - lower)
    return out


def test_projection_of_hand_checked_atoms():
    support = categorical_support(3, 0.0, 2.0)  # [0, 1, 2]
    atoms = jnp.array([[0.25], [1.0], [5.0], [-3.0], [1.5]])
    probs = jnp.ones((5, 1))
    expected = [[0.75, 0.25, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    np.testing.assert_allclose(project_onto_support(atoms, probs, support), expected, atol=1e-6)


def test_projection_matches_the_per_atom_numpy_reference_and_keeps_the_mass():
    rng = np.random.default_rng(0)
    support = np.linspace(-10.0, 10.0, 11).astype(np.float32)
    atoms = rng.uniform(-14.0, 14.0, (6, 7)).astype(np.float32)
    atoms[0, :3] = support[[0, 4, 10]]  # landing exactly on support atoms
    probs = rng.dirichlet(np.ones(7), 6).astype(np.float32)
    projected = np.asarray(project_onto_support(jnp.asarray(atoms), jnp.asarray(probs), jnp.asarray(support)))
    np.testing.assert_allclose(projected, numpy_projection(atoms, probs, support), atol=1e-5)
    np.testing.assert_allclose(projected.sum(axis=1), 1.0, atol=1e-5)
    # inside the support the projection keeps the mean
    inside = np.clip(atoms, -10.0, 10.0)
    np.testing.assert_allclose(projected @ support, (probs * inside).sum(axis=1), atol=1e-4)


def test_target_takes_the_member_with_the_lower_mean_and_a_termination_ends_the_sum():
    support = categorical_support(5, 0.0, 4.0)
    high = jnp.log(jnp.array([0.0, 0.0, 0.0, 0.0, 1.0]) + 1e-9)  # all mass at 4
    low = jnp.log(jnp.array([0.0, 1.0, 0.0, 0.0, 0.0]) + 1e-9)  # all mass at 1
    next_logits = jnp.stack([jnp.stack([high, low]), jnp.stack([low, high])])  # [C=2, N=2, K]
    returns, discount = jnp.array([1.0, 1.0]), jnp.array([0.5, 0.5])
    live = distributional_target(next_logits, support, returns, discount, jnp.array([False, False]))
    # both items bootstrap from the member whose mass sits at 1: 1 + 0.5 * 1 = 1.5
    np.testing.assert_allclose(live, [[0, 0.5, 0.5, 0, 0]] * 2, atol=1e-6)
    ended = distributional_target(next_logits, support, returns, discount, jnp.array([True, False]))
    np.testing.assert_allclose(ended[0], [0, 1, 0, 0, 0], atol=1e-6)
    shifted = distributional_target(next_logits, support, returns, discount, jnp.array([False, False]),
                                    shift=jnp.array([2.0, -2.0]))  # SAC's -alpha * log_prob
    np.testing.assert_allclose(shifted @ support, [1 + 0.5 * (1 + 2), 1 + 0.5 * (1 - 2)], atol=1e-5)


def test_expected_values_and_cross_entropy():
    support = categorical_support(3, -1.0, 1.0)
    logits = jnp.log(jnp.array([[0.2, 0.3, 0.5]]))
    np.testing.assert_allclose(expected_values(logits, support), [0.3], atol=1e-6)
    target = jnp.array([[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(cross_entropy(logits[None], target), [[-np.log(0.3)]], atol=1e-6)
    grad = jax.grad(lambda x: cross_entropy(x, target).sum())(logits[None])
    np.testing.assert_allclose(grad[0, 0], [0.2, 0.3 - 1.0, 0.5], atol=1e-6)  # softmax - target


def test_support_spans_its_bounds():
    np.testing.assert_allclose(categorical_support(4, -3.0, 3.0), [-3, -1, 1, 3], atol=1e-6)
