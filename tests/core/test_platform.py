"""Backend-dependent lowering choices give the same numbers."""

import jax
import numpy as np
import pytest

from jaxrl.core.platform import seed_batched_lowering


def _threefry_loops(hlo_text: str) -> int:
    return hlo_text.count("stablehlo.while")


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="JAX rolls threefry into a loop on CPU only")
def test_seed_batched_lowering_writes_threefry_out_with_the_same_bits_and_restores_jaxs_rule():
    keys = jax.random.split(jax.random.PRNGKey(0), 4)

    def program():  # a new function each time, so no lowering is reused from a cache
        return jax.jit(jax.vmap(lambda key: jax.random.uniform(jax.random.fold_in(key, 3), (5,))))

    rolled = program().lower(keys)
    with seed_batched_lowering():
        written_out = program().lower(keys)
    with seed_batched_lowering(False):
        kept = program().lower(keys)
    after = program().lower(keys)
    assert _threefry_loops(rolled.as_text()) >= 1
    assert _threefry_loops(written_out.as_text()) == 0
    assert _threefry_loops(kept.as_text()) == _threefry_loops(after.as_text()) == _threefry_loops(rolled.as_text())
    np.testing.assert_array_equal(written_out.compile()(keys), rolled.compile()(keys))


def test_seed_batched_lowering_restores_the_rule_when_lowering_fails():
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    with pytest.raises(TypeError), seed_batched_lowering():
        jax.jit(jax.vmap(lambda key: jax.random.uniform(key, (2,)) + "x")).lower(keys)
    lowered = jax.jit(jax.vmap(lambda key: jax.random.normal(key, (2,)))).lower(keys)
    assert _threefry_loops(lowered.as_text()) >= (1 if jax.default_backend() == "cpu" else 0)
