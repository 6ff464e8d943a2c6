"""gymnax through the device-env protocol: every env id runs or is refused by name, the final
observation survives the auto-reset, termination is not truncation, and import failures say why."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

gymnax = pytest.importorskip("gymnax")

from jaxrl.cli import main  # noqa: E402
from jaxrl.envs.device import forget_built_envs, make_device_env, step_keys  # noqa: E402

NEEDS_NETWORK = {"MNISTBandit-bsuite"}  # downloads MNIST when built


def test_every_gymnax_env_traces_vmapped_with_float32_observations_of_its_spec_shape():
    # traced, not run (25 compilations took 35 s); the runs below and the training tests execute envs
    for name in gymnax.registered_envs:
        if name in NEEDS_NETWORK:
            continue
        env = make_device_env(f"gymnax/{name}")
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        state, obs = jax.eval_shape(jax.vmap(env.reset), keys)
        actions = (jnp.zeros(3, jnp.int32) if env.spec.discrete else jnp.zeros((3, env.spec.action_dim)))
        out = jax.eval_shape(jax.vmap(env.step), state, actions, step_keys(keys[0], (3,)))
        for array in (obs, out.obs, out.next_obs):
            assert array.dtype == jnp.float32 and array.shape == (3, *env.spec.observation_shape), name
        assert out.terminated.shape == out.truncated.shape == (3,)


def test_an_env_that_cannot_be_built_is_refused_by_name(monkeypatch):
    def broken_make(name, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(gymnax, "make", broken_make)
    forget_built_envs()  # a Catch this process built already would not be built again
    with pytest.raises(ValueError, match=r"^gymnax/Catch-bsuite cannot be built here: OSError: no network$"):
        make_device_env("gymnax/Catch-bsuite")


def test_discrete_observations_are_one_hot():
    env = make_device_env("gymnax/FrozenLake-misc")  # declares Discrete(16); reset returns the int 0
    assert env.spec.observation_shape == (16,)
    _, obs = env.reset(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(obs, np.eye(16, dtype=np.float32)[0])


def test_the_time_limit_is_truncation_and_keeps_the_final_observation():
    env = make_device_env("gymnax/Pendulum-v1")  # never terminates; 200-step limit
    step = jax.jit(env.step)
    state, obs = env.reset(jax.random.PRNGKey(1))
    for index in range(env.max_episode_steps):
        out = step(state, jnp.zeros(1), step_keys(jax.random.PRNGKey(index)))
        assert not bool(out.terminated)
        assert bool(out.truncated) == (index == env.max_episode_steps - 1)
        if index < env.max_episode_steps - 1:
            np.testing.assert_array_equal(out.obs, out.next_obs)
        state = out.env_state
    assert not np.array_equal(out.obs, out.next_obs)  # next_obs is the last state, obs the next episode's
    cos, sin = np.asarray(out.next_obs[:2])
    assert cos**2 + sin**2 == pytest.approx(1.0, abs=1e-5)  # a real Pendulum observation, not a reset filler


def test_a_pole_that_falls_is_terminated_not_truncated():
    env = make_device_env("gymnax/CartPole-v1")
    state, _ = env.reset(jax.random.PRNGKey(0))
    for index in range(100):
        out = env.step(state, jnp.asarray(1), step_keys(jax.random.PRNGKey(index)))  # always push right
        if bool(out.terminated | out.truncated):
            break
        state = out.env_state
    assert bool(out.terminated) and not bool(out.truncated) and index < 50
    assert abs(float(out.next_obs[2])) > 0.2  # the final observation shows the fallen pole (> 12 degrees)


@pytest.mark.parametrize("env_id, loop", [("gymnax/Breakout-MinAtar", "device"),
                                          ("gymnax/FrozenLake-misc", "host")])
def test_ppo_trains_on_grid_observations_in_both_loops(tmp_path, capsys, env_id, loop):
    assert main(["train", "ppo", "--env", env_id, "--loop", loop, "--total-timesteps", "512", "--num-envs", "4",
                 "--num-steps", "32", "--hidden-sizes", "16", "--run-dir", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    run_dir = tmp_path / "run" / "seed_1" if loop == "device" else tmp_path / "run"
    capsys.readouterr()
    video = tmp_path / "x.gif"
    if env_id.endswith("-MinAtar"):  # MinAtar renders from its grid
        assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(video)]) == 0
        assert video.stat().st_size > 1000 and "frames to" in capsys.readouterr().err
        return
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(video)]) == 1
    assert capsys.readouterr().err.strip() == "jaxrl: error: " + (
        f"{env_id} cannot render 'rgb_array': this suite has no renderer here; "
        "evaluate it without --render or --video")


def test_a_minatar_frame_colours_each_cell_by_its_highest_active_channel():
    from jaxrl.envs.gymnax_suite import MINATAR_CELL_PIXELS, MINATAR_COLOURS, minatar_frame

    grid = np.zeros((10, 10, 4), np.float32)
    grid[0, 0, 1] = 1.0  # channel 1 alone
    grid[9, 9, [0, 3]] = 1.0  # channels 0 and 3: 3 is drawn
    frame = minatar_frame(grid)
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    cell = MINATAR_CELL_PIXELS
    np.testing.assert_array_equal(frame[:cell, :cell], np.broadcast_to(MINATAR_COLOURS[1], (cell, cell, 3)))
    np.testing.assert_array_equal(frame[-cell:, -cell:], np.broadcast_to(MINATAR_COLOURS[3], (cell, cell, 3)))
    assert not frame[cell:-cell].any()  # empty cells are black


@pytest.mark.parametrize("env_id, base_id, kept", [("jaxrl/CartPole-NoVel-v1", "gymnax/CartPole-v1", [0, 2]),
                                                   ("jaxrl/Pendulum-NoVel-v1", "gymnax/Pendulum-v1", [0, 1])])
def test_no_velocity_ids_run_in_the_device_loop_on_gymnax_ports(env_id, base_id, kept):
    env, base = make_device_env(env_id), make_device_env(base_id)
    assert env.spec.observation_shape == (2,) and env.max_episode_steps == base.max_episode_steps
    key, action = jax.random.PRNGKey(4), (jnp.int32(1) if env.spec.discrete else jnp.ones(1))
    (state, obs), (base_state, base_obs) = env.reset(key), base.reset(key)
    np.testing.assert_array_equal(obs, base_obs[np.asarray(kept)])
    out, base_out = env.step(state, action, step_keys(key)), base.step(base_state, action, step_keys(key))
    np.testing.assert_array_equal(out.next_obs, base_out.next_obs[np.asarray(kept)])
    np.testing.assert_array_equal(out.obs, base_out.obs[np.asarray(kept)])
