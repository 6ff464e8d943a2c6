import jax.numpy as jnp
import numpy as np

from jaxrl.core.losses import explained_variance, normalize_advantages, ppo_policy_loss, value_loss


def test_policy_loss_hand_checked_with_clip_boundaries():
    clip = 0.2
    # ratios 1.5 (clipped for A>0), 0.5 (clipped for A<0), 1.1 (inside), 0.7 with A>0 (unclipped side wins)
    ratios = np.array([1.5, 0.5, 1.1, 0.7])
    advantages = jnp.array([2.0, -1.0, 3.0, 1.0])
    old = jnp.zeros(4)
    loss, info = ppo_policy_loss(jnp.log(ratios), old, advantages, clip)
    expected = np.mean([-2.0 * 1.2, -(-1.0) * 0.8, -3.0 * 1.1, -1.0 * 0.7])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(info.clip_fraction, 3 / 4)  # 1.5, 0.5 and 0.7 are outside [0.8, 1.2]
    np.testing.assert_allclose(info.approx_kl, np.mean((ratios - 1) - np.log(ratios)), rtol=1e-5)


def test_policy_loss_gradient_vanishes_only_outside_the_clip_range():
    import jax

    grad = jax.grad(lambda lp: ppo_policy_loss(lp, jnp.zeros(1), jnp.array([1.0]), 0.2)[0])
    assert float(grad(jnp.log(jnp.array([1.19])))[0]) < 0.0  # inside: pushes the ratio up
    assert float(grad(jnp.log(jnp.array([1.21])))[0]) == 0.0  # beyond 1 + clip for A > 0: no gradient
    assert float(grad(jnp.log(jnp.array([0.5])))[0]) < 0.0  # below 1 - clip with A > 0: still pushed up


def test_policy_loss_mask_ignores_padding():
    log_ratio = jnp.log(jnp.array([1.1, 5.0]))
    loss, _ = ppo_policy_loss(log_ratio, jnp.zeros(2), jnp.array([1.0, 100.0]), 0.2, mask=jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(loss, -1.1, rtol=1e-6)


def test_value_loss_plain_and_clipped():
    values, old, returns = jnp.array([2.0, 0.0]), jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    np.testing.assert_allclose(value_loss(values, old, returns), 0.5 * np.mean([4.0, 1.0]))
    # clipped prediction for sample 0 is 1.2 -> error 1.44 < 4, so max keeps 4; sample 1 unchanged
    np.testing.assert_allclose(value_loss(values, old, returns, 0.2), 0.5 * np.mean([4.0, 1.0]))
    # when the clipped error is larger, it wins: v=0.1 (old 1.0, target 0.0): clipped pred 0.8 -> 0.64
    np.testing.assert_allclose(value_loss(jnp.array([0.1]), jnp.array([1.0]), jnp.array([0.0]), 0.2), 0.5 * 0.64,
                               rtol=1e-5)


def test_normalize_advantages_masked():
    adv = jnp.array([1.0, 2.0, 3.0, 1000.0])
    out = normalize_advantages(adv, jnp.array([1.0, 1.0, 1.0, 0.0]))
    ref = (np.array([1.0, 2.0, 3.0]) - 2.0) / np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out[:3], ref, rtol=1e-5)


def test_explained_variance():
    targets = jnp.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(explained_variance(targets, targets), 1.0)
    np.testing.assert_allclose(explained_variance(jnp.zeros(4), targets), 0.0, atol=1e-6)
    assert np.isnan(explained_variance(targets, jnp.ones(4)))
