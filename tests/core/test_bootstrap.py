"""next_observation_values against a NumPy reference: reuse where the env continued, the network
elsewhere, zero where terminated, for any number of boundaries."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core.bootstrap import next_observation_values


def value_of(obs):
    return jnp.sum(obs * jnp.arange(1.0, obs.shape[-1] + 1.0), axis=-1)


def rollout(rng, steps, envs, boundary_rate):
    """A [T, B] rollout whose envs continue (next_obs[t] == obs[t+1]) except at boundaries."""
    next_obs = rng.normal(size=(steps, envs, 3)).astype(np.float32)
    obs = np.empty_like(next_obs)
    obs[0] = rng.normal(size=(envs, 3))
    boundary = rng.random((steps, envs)) < boundary_rate
    obs[1:] = np.where(boundary[:-1, :, None], rng.normal(size=(steps - 1, envs, 3)), next_obs[:-1])
    terminated = boundary & (rng.random((steps, envs)) < 0.5)
    return obs, next_obs, boundary, terminated


@pytest.mark.parametrize("boundary_rate", [0.0, 0.05, 0.9])  # 0.9: many chunks of 2B rows
def test_reuses_acting_values_and_evaluates_the_rest(boundary_rate):
    rng = np.random.default_rng(int(boundary_rate * 100))
    steps, envs = 16, 4
    obs, next_obs, boundary, terminated = rollout(rng, steps, envs, boundary_rate)
    # Acting's values carry a marker, so a reused one is told apart from a recomputed one.
    acting_values = np.asarray(value_of(jnp.asarray(obs))) + 1000.0
    got = np.asarray(next_observation_values(value_of, jnp.asarray(obs), jnp.asarray(next_obs),
                                             jnp.asarray(acting_values), jnp.asarray(terminated)))
    expected = np.asarray(value_of(jnp.asarray(next_obs)))
    continued = np.zeros((steps, envs), bool)
    continued[:-1] = ~boundary[:-1]
    expected = np.where(continued, np.roll(acting_values, -1, axis=0), expected)  # values[t + 1]
    expected = np.where(terminated & ~continued, 0.0, expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.all(got[-1][~terminated[-1]] < 1000.0)  # the last step is always evaluated


def test_evaluates_chunks_of_two_rows_per_env_and_runs_under_vmap():
    shapes = []

    def recording(obs):
        shapes.append(obs.shape)
        return value_of(obs)

    rng = np.random.default_rng(3)
    runs = [rollout(rng, 8, 5, 0.5) for _ in range(3)]
    obs, next_obs, _, terminated = (jnp.asarray(np.stack(parts)) for parts in zip(*runs, strict=True))
    values = jax.vmap(value_of)(obs)
    got = jax.vmap(lambda o, n, v, t: next_observation_values(recording, o, n, v, t))(obs, next_obs, values, terminated)
    assert shapes == [(10, 3)]  # traced once, 2 x 5 rows at a time
    expected = jnp.where(terminated, 0.0, value_of(next_obs))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-6)
