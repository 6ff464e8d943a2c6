"""Configs that cannot fit are refused in one line, with the estimate, before anything is allocated."""

import pytest

import jaxrl
from jaxrl.loops import device_run, host, host_off_policy
from jaxrl.loops.memory_budget import HOST_ENV_BYTES, check_fits

GIB = 2**30


def test_check_fits_names_each_part_largest_first():
    check_fits({"a": GIB}, 2 * GIB, "host")
    check_fits({"a": 10 * GIB}, None, "host")  # unknown capacity: nothing to check
    with pytest.raises(ValueError, match=r"needs about 3\.0 GiB of host memory \(b 2\.0 GiB, a 1\.0 GiB\), more "
                                         r"than the 2\.0 GiB available"):
        check_fits({"a": GIB, "b": 2 * GIB}, 2 * GIB, "host")


def test_a_replay_buffer_that_cannot_fit_is_refused_before_it_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(host_off_policy, "available_device_bytes", lambda: GIB)
    config = jaxrl.config_for("sac", "Pendulum-v1", buffer_size=100_000_000, progress=False)
    # 100M transitions of Pendulum (3 + 3 observation floats, 1 action, reward, 2 flags): ~6 GiB
    with pytest.raises(ValueError, match=r"replay buffer \(--buffer-size\) \d+\.\d GiB\), more than the 1\.0 GiB"):
        jaxrl.train("sac", config, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # no run dir left behind


def test_host_envs_that_cannot_fit_are_refused_before_they_are_made(monkeypatch):
    monkeypatch.setattr(host, "available_host_bytes", lambda: GIB)
    num_envs = GIB // HOST_ENV_BYTES["async"] + 1
    config = jaxrl.config_for("ppo", "CartPole-v1", num_envs=num_envs, vectorization="async", num_steps=1,
                              total_timesteps=num_envs, progress=False)
    with pytest.raises(ValueError, match=r"envs \(--num-envs\)"):
        jaxrl.train("ppo", config)


def test_a_device_run_that_cannot_fit_is_refused_before_compiling(monkeypatch):
    monkeypatch.setattr(device_run, "available_device_bytes", lambda: 2**20)
    config = jaxrl.config_for("ppo", "phys2d/CartPole-v1", num_envs=4096, num_steps=64, total_timesteps=4096 * 64,
                              progress=False)
    with pytest.raises(ValueError, match=r"rollouts \(--num-envs x --num-steps x --num-seeds\)"):
        jaxrl.run_device("ppo", config, num_seeds=2)


def test_step_counts_past_int32_are_refused_not_overflowed():
    with pytest.raises(ValueError, match=r"total_timesteps must be in \[1, 2\*\*31\)"):
        jaxrl.config_for("ppo", "CartPole-v1", total_timesteps=10**12).validate()
