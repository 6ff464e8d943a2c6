"""The JAX env suites behind their id prefixes: a missing or broken suite says why in one line,
and brax's and MuJoCo Playground's adapters keep the final observation across the auto-reset,
tell termination from truncation, vmap over envs and seeds, render, and train in both loops."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.cli import main
from jaxrl.envs import suites
from jaxrl.envs.device import DeviceEnvAsGym, _jitted_device_env, forget_built_envs, make_device_env
from jaxrl.envs.host import HostStep, HostVectorEnv, make_vector_env

SUITE_IDS = [("gymnax/CartPole-v1", "gymnax", "gymnax"), ("brax/ant", "brax.envs", "brax"),
             ("playground/CartpoleBalance", "mujoco_playground", "playground")]


def _failing_import(monkeypatch, package: str, error: Exception) -> None:
    forget_built_envs()  # an env this process built would not import its suite again
    real_import = suites.importlib.import_module

    def import_module(name, *args, **kwargs):
        if name == package:
            raise error
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(suites.importlib, "import_module", import_module)


@pytest.mark.parametrize("env_id, package, extra", SUITE_IDS)
def test_a_missing_suite_names_the_extra_that_installs_it(monkeypatch, env_id, package, extra):
    top = package.split(".")[0]
    _failing_import(monkeypatch, package, ModuleNotFoundError(f"No module named {top!r}", name=top))
    with pytest.raises(ValueError, match=rf"^'{env_id}' needs {top}: pip install 'jaxrl\[{extra}\]'$"):
        make_device_env(env_id)


def test_jaxrl_envs_keeps_a_missing_suite_in_its_list_with_the_extra_to_install(monkeypatch, capsys):
    _failing_import(monkeypatch, "brax.envs", ModuleNotFoundError("No module named 'brax'", name="brax"))
    assert main(["envs", "brax"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["brax: device loop (default) and host loop; extra 'brax'",
                     "  unavailable here: 'brax/' needs brax: pip install 'jaxrl[brax]'"]


def test_a_velocity_hidden_id_names_itself_and_its_missing_base_suite(monkeypatch):
    _failing_import(monkeypatch, "gymnax", ModuleNotFoundError("No module named 'gymnax'", name="gymnax"))
    with pytest.raises(ValueError, match=r"^'jaxrl/CartPole-NoVel-v1' runs in the device loop on 'gymnax/CartPole-v1' "
                                         r"\(the host loop needs no extra\): 'gymnax/CartPole-v1' needs gymnax: "
                                         r"pip install 'jaxrl\[gymnax\]'$"):
        make_device_env("jaxrl/CartPole-NoVel-v1")


@pytest.mark.parametrize("env_id, package, extra", SUITE_IDS)
def test_an_installed_suite_that_fails_to_import_shows_the_real_cause(monkeypatch, env_id, package, extra):
    _failing_import(monkeypatch, package, ModuleNotFoundError("No module named 'six'", name="six"))
    with pytest.raises(ValueError, match=rf"^{package} is installed but does not import: No module named 'six' "
                                         r"\(pip install six\)$"):
        make_device_env(env_id)
    _failing_import(monkeypatch, package, RuntimeError("no CUDA driver"))
    with pytest.raises(ValueError, match=rf"^{package} is installed but does not import: RuntimeError: no CUDA"):
        make_device_env(env_id)


def _check_host_protocol(first_obs: np.ndarray, steps: list[HostStep]) -> np.ndarray:
    """The host adapter's contract on ``steps`` of a vector env; the ``[T, B]`` mask of ended episodes."""
    obs, next_obs = np.stack([step.obs for step in steps]), np.stack([step.next_obs for step in steps])
    terminated, truncated = np.stack([step.terminated for step in steps]), np.stack([step.truncated for step in steps])
    assert first_obs.dtype == obs.dtype == next_obs.dtype == np.float32
    assert all(step.rewards.dtype == np.float32 and step.rewards.shape == step.terminated.shape for step in steps)
    assert not np.any(terminated & truncated)
    ended = terminated | truncated
    # A step that did not end the episode acts on its true next observation...
    np.testing.assert_array_equal(obs[~ended], next_obs[~ended])
    # ...one that did keeps the final observation in next_obs and acts on a fresh episode's first.
    assert np.all(np.any(obs[ended] != next_obs[ended], axis=-1))
    assert np.all(np.stack([step.obs_is_reset for step in steps]) == ended)
    return ended


@pytest.fixture(scope="module")
def brax_pendulum():
    pytest.importorskip("brax")
    return make_device_env("brax/inverted_pendulum")


def _host_steps(env_id: str, num_envs: int, steps: int, action: float) -> tuple[np.ndarray, list[HostStep]]:
    """``steps`` host-loop vector steps with a constant action: the suite env's jitted step (without
    the auto-reset, which gymnasium's vector env does by calling reset) is the one the short host
    training run below reuses (a brax step takes seconds to compile)."""
    env = HostVectorEnv(make_vector_env(env_id, num_envs, "sync"))
    try:
        first_obs = env.reset(seed=0)
        return first_obs, [env.step(np.full((num_envs, 1), action, np.float32)) for _ in range(steps)]
    finally:
        env.close()


def test_brax_termination_keeps_the_final_observation_and_its_state_checkpoints(tmp_path, brax_pendulum):
    env = brax_pendulum
    assert env.spec.observation_shape == (4,) and env.spec.action_dim == 1 and env.max_episode_steps == 1000
    first_obs, steps = _host_steps("brax/inverted_pendulum", 3, 40, action=1.0)  # full push: the pole falls
    ended = _check_host_protocol(first_obs, steps)
    assert int(np.sum([step.terminated for step in steps])) >= 3 and not np.any([step.truncated for step in steps])
    assert len({tuple(o) for o in first_obs}) == 3  # one start each
    # The final observation is past brax's fall threshold (|angle| > 0.2), a fresh one is not.
    assert np.all(np.abs(np.stack([step.next_obs for step in steps])[ended][:, 1]) > 0.2)
    assert np.all(np.abs(np.stack([step.obs for step in steps])[ended][:, 1]) < 0.2)
    # The device loop's auto-resetting step, vmapped: a fresh start per env.
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    state, obs = jax.jit(jax.vmap(env.reset))(keys)
    assert len({tuple(o) for o in np.asarray(obs)}) == 3
    # brax's State holding MJX's Data round-trips through a checkpoint (flax does not know those classes)
    from jaxrl.io.checkpoint import read_checkpoint, restore_state, save_checkpoint

    state = jax.tree.map(lambda leaf: leaf[0], state)
    path = save_checkpoint(tmp_path, {"env": state}, {"env_steps": 1})
    restored = restore_state({"env": jax.tree.map(jnp.zeros_like, state)}, read_checkpoint(path)[1], path)["env"]
    assert type(restored.inner) is type(state.inner) and dataclasses.is_dataclass(restored.inner)
    for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(got, want)


def test_an_unknown_backend_or_env_is_one_line(monkeypatch):
    pytest.importorskip("brax")
    with pytest.raises(ValueError, match=r"^unknown brax env 'walker' \(did you mean 'brax/walker2d'\?\); brax has: "
                                         r"ant, fast, halfcheetah"):
        make_device_env("brax/walker")
    monkeypatch.setenv("JAXRL_BRAX_BACKEND", "bullet")
    with pytest.raises(ValueError, match=r"^JAXRL_BRAX_BACKEND='bullet' is not a brax backend; use one of mjx, "):
        make_device_env("brax/ant")


@pytest.fixture(scope="module")
def playground_cartpole():
    pytest.importorskip("mujoco_playground")
    return make_device_env("playground/CartpoleBalance")


def _last_allowed_step(env_id: str, action: float):
    """One step (without the auto-reset) from a state on the last step the time limit allows (no
    1000-step rollout needed), through the host loop's cached jitted env (the rendering test reuses
    its compilation)."""
    env, reset, step = _jitted_device_env(env_id)
    key = jax.random.PRNGKey(5)
    state, obs = reset(key)
    state = state._replace(steps=jnp.int32(env.max_episode_steps - 1))
    return obs, step(state, jnp.full(env.spec.action_dim, action, jnp.float32), key)


def test_playground_time_limit_is_truncation_with_the_final_observation(playground_cartpole):
    env = playground_cartpole
    assert env.spec.observation_shape == (5,) and env.max_episode_steps == 1000  # the env config's episode_length
    first_obs, out = _last_allowed_step("playground/CartpoleBalance", 0.0)  # DM-Control cartpole never terminates
    assert bool(out.truncated) and not bool(out.terminated) and int(out.env_state.steps) == env.max_episode_steps
    # next_obs is where the cart got to (one step from the start)
    assert 0 < np.abs(np.asarray(out.next_obs) - np.asarray(first_obs)).max() < 0.1


def test_playground_dict_observations_give_the_policy_the_state_entry():
    pytest.importorskip("mujoco_playground")
    from jaxrl.envs.playground_suite import policy_observation

    state = jnp.ones(3)
    assert policy_observation("playground/X", {"state": state, "pixels": jnp.zeros(7)}) is state
    # a privileged_state entry follows it (the critic-only entries, see tests/envs/test_privileged.py)
    np.testing.assert_array_equal(policy_observation("playground/X", {"state": state,
                                                                      "privileged_state": jnp.zeros((2, 2))}),
                                  [1, 1, 1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"^playground/X observes a dict without a 'state' entry \(it has pixels\)"):
        policy_observation("playground/X", {"pixels": state})


def test_playground_renders_rgb_frames_of_the_episode(playground_cartpole):
    env = DeviceEnvAsGym("playground/CartpoleBalance", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    for _ in range(30):
        env.step(np.ones(1, np.float32))
    later = env.render()
    assert first.shape == later.shape == (240, 320, 3) and first.dtype == np.uint8
    assert first.std() > 10 and np.any(first != later)  # a scene, and the cart moved
    with pytest.raises(ValueError, match=r"^playground/CartpoleBalance cannot render 'human': only rgb_array"):
        DeviceEnvAsGym("playground/CartpoleBalance", render_mode="human")


@pytest.mark.parametrize("env_id, module, algorithm, loop", [
    ("playground/CartpoleBalance", "mujoco_playground", "ppo", "device"),
    ("brax/inverted_pendulum", "brax", "sac", "host"),
])
def test_a_short_training_run_per_suite(tmp_path, env_id, module, algorithm, loop):
    pytest.importorskip(module)
    sizes = (["--num-steps", "16", "--num-envs", "4", "--total-timesteps", "128", "--num-seeds", "2"] if loop == "device"
             else ["--learning-starts", "32", "--batch-size", "16", "--total-timesteps", "64"])
    assert main(["train", algorithm, "--env", env_id, "--loop", loop, "--hidden-sizes", "16",
                 "--run-dir", str(tmp_path / "run"), "--no-progress", *sizes]) == 0
    assert any((tmp_path / "run").rglob("ckpt_*.msgpack"))
    if loop == "host":  # the saved agent evaluates on the suite's env (brax's pendulum falls within steps)
        assert main(["eval", str(tmp_path / "run"), "--episodes", "1"]) == 0
