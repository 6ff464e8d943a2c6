import jax.numpy as jnp
import numpy as np

from jaxrl.core.normalization import init_running_stats, normalize, update_running_stats


def test_running_stats_match_numpy_over_batches_and_mask():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(300, 4)).astype(np.float32)
    stats = init_running_stats((4,))
    for chunk in np.split(data, 3):
        stats = update_running_stats(stats, jnp.asarray(chunk))
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-3)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-3)
    masked = update_running_stats(stats, jnp.full((5, 4), 1e6), jnp.zeros(5))
    np.testing.assert_allclose(masked.mean, stats.mean, rtol=1e-6)
    z = normalize(stats, jnp.asarray(data))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-2)
