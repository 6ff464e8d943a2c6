"""The device-env protocol against gymnasium's own functional envs."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs.device import device_env_ids, from_func_env, make_device_env, step_keys


def _reference_step(env_id: str, state: np.ndarray, action) -> tuple[np.ndarray, float, bool]:
    """gymnasium's FunctionalJaxEnv stepped from ``state``."""
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    env.reset(seed=0)
    env.state = jnp.asarray(state, jnp.float32)
    obs, reward, terminated, _, _ = env.step(action)
    env.close()
    return np.asarray(obs), float(reward), bool(terminated)


@pytest.mark.parametrize("env_id", ["phys2d/CartPole-v1", "phys2d/Pendulum-v0"])
def test_step_matches_gymnasium_dynamics(env_id):
    env = make_device_env(env_id)
    step = jax.jit(env.step)
    rng = np.random.default_rng(0)
    reset_state, _ = env.reset(jax.random.PRNGKey(0))
    for index in range(6):
        inner = reset_state.inner + jnp.asarray(rng.uniform(-0.04, 0.04, reset_state.inner.shape), jnp.float32)
        if env.spec.discrete:
            action = index % 2
        else:
            action = np.array([rng.uniform(-2.0, 2.0)], np.float32)
        expected_obs, expected_reward, expected_terminated = _reference_step(env_id, np.asarray(inner), action)
        out = step(reset_state._replace(inner=inner), jnp.asarray(action), step_keys(jax.random.PRNGKey(index)))
        np.testing.assert_allclose(out.next_obs, expected_obs, rtol=1e-6, atol=1e-6)
        assert float(out.reward) == pytest.approx(expected_reward, rel=1e-6)
        assert bool(out.terminated) == expected_terminated
        if not expected_terminated:  # no auto-reset: obs is the next observation itself
            np.testing.assert_array_equal(out.obs, out.next_obs)


def test_termination_auto_resets_and_keeps_the_final_observation():
    env = make_device_env("phys2d/CartPole-v1")
    step = jax.jit(env.step)
    state, _ = env.reset(jax.random.PRNGKey(1))
    for t in range(200):  # always push right: the pole falls within a few dozen steps
        out = step(state, jnp.asarray(1), step_keys(jax.random.PRNGKey(t)))
        if bool(out.terminated):
            break
        state = out.env_state
    else:
        pytest.fail("CartPole never terminated under a constant action")
    assert not bool(out.truncated)
    # The final observation is the one the dynamics produced, outside the bounds ...
    x, theta = float(out.next_obs[0]), float(out.next_obs[2])
    assert abs(x) > 2.4 or abs(theta) > 12 * 2 * np.pi / 360
    # ... while obs is a fresh start (|s| <= 0.05) with the step counter back at 0.
    assert np.all(np.abs(np.asarray(out.obs)) <= 0.05)
    assert int(out.env_state.steps) == 0
    np.testing.assert_array_equal(out.obs, out.env_state.inner)


def test_time_limit_truncates_and_bootstraps_from_the_real_final_observation():
    base = make_device_env("phys2d/Pendulum-v0")
    func_env = gym.make("phys2d/Pendulum-v0", disable_env_checker=True).unwrapped.func_env
    env = from_func_env("short-pendulum", func_env, max_episode_steps=3)
    assert base.max_episode_steps == 200
    state, _ = env.reset(jax.random.PRNGKey(0))
    flags = []
    for t in range(3):
        out = env.step(state, jnp.array([0.3]), step_keys(jax.random.PRNGKey(10 + t)))
        flags.append((bool(out.terminated), bool(out.truncated)))
        previous, state = state, out.env_state
    assert flags == [(False, False), (False, False), (False, True)]
    expected_final = func_env.observation(func_env.transition(previous.inner, jnp.array([0.3])), None)
    np.testing.assert_allclose(out.next_obs, expected_final, rtol=1e-6)
    assert not np.allclose(out.obs, out.next_obs)
    assert int(state.steps) == 0


def test_box_actions_are_clipped_to_the_bounds():
    env = make_device_env("phys2d/Pendulum-v0")
    state, _ = env.reset(jax.random.PRNGKey(0))
    wild = env.step(state, jnp.array([50.0]), step_keys(jax.random.PRNGKey(1)))
    bound = env.step(state, jnp.array([2.0]), step_keys(jax.random.PRNGKey(1)))
    np.testing.assert_array_equal(wild.next_obs, bound.next_obs)
    assert float(wild.reward) == float(bound.reward)


def test_host_only_env_id_names_the_jax_env_ids():
    with pytest.raises(ValueError, match="only in the host loop") as error:
        make_device_env("CartPole-v1")
    assert "phys2d/CartPole-v1" in str(error.value) and "phys2d/Pendulum-v0" in str(error.value)
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchEnv-v0'.*phys2d/CartPole-v1"):
        make_device_env("NoSuchEnv-v0")
    assert {"phys2d/CartPole-v1", "phys2d/Pendulum-v0"} <= set(device_env_ids())


def test_device_env_as_gym_steps_like_the_device_env_and_trains_in_the_host_loop():
    from jaxrl.agents.ppo import PPOConfig
    from jaxrl.api import train
    from jaxrl.envs.device import DeviceEnvAsGym

    wrapped = DeviceEnvAsGym("phys2d/CartPole-v1")
    obs, _ = wrapped.reset(seed=3)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, _ = wrapped.step(1)
        steps += 1
        assert reward == 1.0
    assert terminated and not truncated and steps < 100
    assert abs(obs[0]) > 2.4 or abs(obs[2]) > 12 * 2 * np.pi / 360  # the true final observation
    gym.register(id="jaxrl_test/DeviceCartPole-v0", entry_point=lambda: DeviceEnvAsGym("phys2d/CartPole-v1"))
    result = train("ppo", PPOConfig(env="jaxrl_test/DeviceCartPole-v0", total_timesteps=512, num_envs=2,
                                    num_steps=64, progress=False))
    assert result.history[-1]["env_steps"] == 512


def test_an_env_is_built_once_per_id_and_again_when_a_jaxrl_variable_changes(monkeypatch):
    first = make_device_env("phys2d/CartPole-v1")
    assert make_device_env("phys2d/CartPole-v1") is first  # jaxrl eval asks twice: spec, then episodes
    assert make_device_env("phys2d/Pendulum-v0") is not first
    monkeypatch.setenv("JAXRL_BRAX_BACKEND", "positional")  # a suite's backend choice: a new env
    rebuilt = make_device_env("phys2d/CartPole-v1")
    assert rebuilt is not first and rebuilt.spec == first.spec
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchEnv-v0'"):  # failures are not cached
        make_device_env("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchEnv-v0'"):
        make_device_env("NoSuchEnv-v0")
