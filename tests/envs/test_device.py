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


def test_step_in_episode_is_the_step_without_its_reset():
    env = make_device_env("phys2d/CartPole-v1")
    state, _ = env.reset(jax.random.PRNGKey(2))
    step, in_episode = jax.jit(env.step), jax.jit(env.step_in_episode)
    ends = 0
    for t in range(120):  # always push right: episodes end and restart
        keys = step_keys(jax.random.PRNGKey(t))
        out, plain = step(state, jnp.asarray(1), keys), in_episode(state, jnp.asarray(1), keys[0])
        for field in ("reward", "terminated", "truncated", "next_obs"):
            np.testing.assert_array_equal(getattr(plain, field), getattr(out, field))
        np.testing.assert_array_equal(plain.obs, plain.next_obs)  # no reset: it acts on where it got to
        if bool(out.terminated):
            ends += 1
            # the stepped (final) state, its counter past the episode's steps, not a fresh start
            np.testing.assert_array_equal(plain.env_state.inner, out.next_obs)
            assert int(plain.env_state.steps) == int(state.steps) + 1 and int(out.env_state.steps) == 0
        else:
            for got, want in zip(jax.tree.leaves(plain.env_state), jax.tree.leaves(out.env_state), strict=True):
                np.testing.assert_array_equal(got, want)
        state = out.env_state
    assert ends >= 2


def test_evaluation_and_the_host_adapter_compile_no_reset_inside_their_steps(monkeypatch):
    """The reset is most of a physics env's compile (brax's ant step: 9.5 s with it, 5.4 s without);
    evaluation stops each env at its episode's end and gymnasium resets the host adapter's env, so
    neither program should hold one. Counted as the times the raw reset is traced."""
    import jaxrl
    from jaxrl.agents.registry import get_algorithm
    from jaxrl.envs import device
    from jaxrl.loops.evaluate_device import episode_returns
    from jaxrl.types import EnvSpec

    resets_traced = []

    def raw_reset(key):
        resets_traced.append(key)
        return jnp.zeros((), jnp.int32), jnp.zeros(1)

    def raw_step(state, action, key):
        return state + 1, jnp.ones(1) * state, jnp.float32(1.0), state >= 3

    def count(program, *args) -> int:
        resets_traced.clear()
        jax.eval_shape(program, *args)
        return len(resets_traced)

    env = device.with_autoreset("test/Counting", EnvSpec((1,), True, 2), 10, raw_reset, raw_step)
    config = jaxrl.config_for("ppo", "CartPole-v1")
    agent = get_algorithm("ppo").agent_for(config)
    agent_state = agent.init(jax.random.PRNGKey(0), env.spec, config)
    env_state, _ = env.reset(jax.random.PRNGKey(0))
    key, action = jax.random.PRNGKey(1), jnp.int32(0)
    assert count(env.step, env_state, action, step_keys(key)) == 1  # the device loop's step resets inside
    assert count(env.step_in_episode, env_state, action, key) == 0
    assert count(episode_returns(agent, env, 4, True, 100), agent_state, key) == 1  # the episodes' start only
    monkeypatch.setattr(device, "make_device_env", lambda env_id: env)
    device.forget_built_envs()
    try:
        host_env = device.DeviceEnvAsGym("test/Counting")
        assert count(host_env._step, env_state, action, key) == 0
        host_env.reset(seed=0)
        for _ in range(4):  # stepping on past the end: the final state stays, gymnasium resets it
            obs, _, terminated, truncated, _ = host_env.step(0)
        assert terminated and not truncated and obs[0] == 3 and int(host_env._state.inner) == 4
    finally:
        device.forget_built_envs()


def test_a_backend_that_mutates_its_state_or_weakens_its_types_is_contained():
    """brax's step writes Python floats into the given state's metrics dict and returns weakly typed
    rewards: the caller's state stays as it was, and the stepped state keeps the reset's types (a
    jitted step fed its own output would otherwise compile a second time)."""
    from jaxrl.envs.device import with_autoreset
    from jaxrl.types import EnvSpec

    def raw_reset(key):
        return {"n": jnp.zeros((), jnp.int32), "metrics": {"r": jnp.zeros((), jnp.float32)}}, jnp.zeros(1)

    def raw_step(state, action, key):
        state["metrics"]["r"] = 1.0  # in place, a Python float, as brax's metrics.update does
        return {"n": state["n"] + 1, "metrics": state["metrics"]}, jnp.ones(1), 1.0, False

    env = with_autoreset("test/Mutating", EnvSpec((1,), True, 2), 10, raw_reset, raw_step)
    state, _ = env.reset(jax.random.PRNGKey(0))

    def stepped_types(state):
        out = env.step_in_episode(state, jnp.int32(0), jax.random.PRNGKey(1))
        assert isinstance(state.inner["metrics"]["r"], jax.core.Tracer)  # the caller's leaf, not 1.0
        return out.env_state

    types = jax.eval_shape(stepped_types, state)
    assert types.inner["metrics"]["r"] == jax.ShapeDtypeStruct((), jnp.float32)  # strong, as the reset's
    step = jax.jit(env.step_in_episode)
    out = step(step(state, jnp.int32(0), jax.random.PRNGKey(1)).env_state, jnp.int32(0), jax.random.PRNGKey(2))
    assert step._cache_size() == 1 and int(out.env_state.steps) == 2 and float(out.env_state.inner["metrics"]["r"]) == 1


def test_box_actions_are_clipped_to_the_bounds():
    env = make_device_env("phys2d/Pendulum-v0")
    state, _ = env.reset(jax.random.PRNGKey(0))
    wild = env.step(state, jnp.array([50.0]), step_keys(jax.random.PRNGKey(1)))
    bound = env.step(state, jnp.array([2.0]), step_keys(jax.random.PRNGKey(1)))
    np.testing.assert_array_equal(wild.next_obs, bound.next_obs)
    assert float(wild.reward) == float(bound.reward)


def test_host_only_env_id_names_its_jax_ports_or_the_jax_env_ids():
    with pytest.raises(ValueError, match="only in the host loop") as error:
        make_device_env("CartPole-v1")
    gymnax_port = "gymnax/CartPole-v1" in device_env_ids()
    assert str(error.value).endswith(f"its JAX port{'s' * gymnax_port} for the device loop: phys2d/CartPole-v1"
                                     + (", gymnax/CartPole-v1" if gymnax_port else ""))
    with pytest.raises(ValueError, match="only in the host loop") as error:
        make_device_env("Blackjack-v1")  # no JAX port: the device loop's ids instead
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
    from jaxrl.envs.device import _jitted_device_env

    first = make_device_env("phys2d/CartPole-v1")
    assert make_device_env("phys2d/CartPole-v1") is first  # jaxrl eval asks twice: spec, then episodes
    assert make_device_env("phys2d/Pendulum-v0") is not first
    host_jitted = _jitted_device_env("phys2d/CartPole-v1")  # the host loop's jitted reset and step
    assert host_jitted[0] is first and _jitted_device_env("phys2d/CartPole-v1") is host_jitted
    monkeypatch.setenv("JAXRL_BRAX_BACKEND", "positional")  # a suite's backend choice: a new env
    rebuilt = make_device_env("phys2d/CartPole-v1")
    assert rebuilt is not first and rebuilt.spec == first.spec
    assert _jitted_device_env("phys2d/CartPole-v1")[0] is rebuilt  # and jitted anew
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchEnv-v0'"):  # failures are not cached
        make_device_env("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchEnv-v0'"):
        make_device_env("NoSuchEnv-v0")
