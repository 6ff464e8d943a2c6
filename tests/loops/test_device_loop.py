"""The device loop: vmapped seeds and sweeps equal separate runs; it learns; bad input is named."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_options import train_seeds_at_users_optimisation

from jaxrl.agents.ppo import PPOConfig
from jaxrl.agents.sac import SACConfig
from jaxrl.agents.td3 import TD3Config
from jaxrl.distributed import env_mesh
from jaxrl.envs.device import make_device_env
from jaxrl.loops.device import DeviceProgram, make_program, make_train
from jaxrl.loops.device_run import final_returns, run_device

TINY_PPO = PPOConfig(env="phys2d/CartPole-v1", total_timesteps=3 * 4 * 32, num_envs=4, num_steps=32,
                     update_epochs=2, num_minibatches=2, progress=False)


def _assert_trees_close(a, b, atol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=atol)


def test_vmap_over_seeds_equals_a_loop_over_seeds():
    train = make_train("ppo", TINY_PPO)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    batched = jax.jit(jax.vmap(train))(keys)
    for index, key in enumerate(keys):
        single = jax.jit(train)(key)
        _assert_trees_close(jax.tree.map(lambda x, i=index: x[i], batched.state.params), single.state.params)
        np.testing.assert_allclose(batched.metrics["value_loss"][index], single.metrics["value_loss"], rtol=1e-5)
    different = np.asarray(jax.tree.leaves(batched.state.params)[0])
    assert not np.allclose(different[0], different[1])  # seeds differ


def test_vmapped_learning_rate_sweep_equals_separate_runs():
    rates = np.array([3e-4, 3e-3], np.float32)
    key = jax.random.PRNGKey(4)
    sweep = jax.jit(jax.vmap(make_train("ppo", TINY_PPO), in_axes=(None, 0)))(key, {"learning_rate": rates})
    for index, rate in enumerate(rates):
        separate = jax.jit(make_train("ppo", dataclasses.replace(TINY_PPO, learning_rate=float(rate))))(key)
        _assert_trees_close(jax.tree.map(lambda x, i=index: x[i], sweep.state.params), separate.state.params)
    with pytest.raises(ValueError, match="unknown hyper-parameters.*'lr'"):
        make_train("ppo", TINY_PPO)(key, {"lr": 1.0})
    # None builds the program without a critic optimizer: its rate would be read by nothing
    with pytest.raises(ValueError, match=r"\['critic_learning_rate'\] are None in the config.*give them a value"):
        make_train("ppo", TINY_PPO)(key, {"critic_learning_rate": 1.0})


def test_the_accelerators_unrolled_scans_train_the_same(monkeypatch):
    """On a GPU the acting scan and the recurrent cells' scan step 8 steps per loop iteration; the
    run must be the one the CPU's plain scans give (a GRU policy goes through both scans)."""
    from jaxrl.core import platform

    config = dataclasses.replace(TINY_PPO, policy="gru", seq_len=8, lstm_hidden_size=16)
    plain = jax.jit(make_train("ppo", config))(jax.random.PRNGKey(3))
    monkeypatch.setattr(platform.jax, "default_backend", lambda: "gpu")  # jax itself; restored after the test
    assert platform.scan_unroll() == platform.ACCELERATOR_SCAN_UNROLL
    unrolled = jax.jit(make_train("ppo", config))(jax.random.PRNGKey(3))
    _assert_trees_close(unrolled.state.params, plain.state.params)
    np.testing.assert_allclose(unrolled.metrics["value_loss"], plain.metrics["value_loss"], rtol=1e-5)


def test_count_equations_reaches_into_loop_bodies_and_branches():
    from jaxrl.core.platform import count_equations

    def body(x):
        looped, _ = jax.lax.scan(lambda c, _: (jnp.sin(c) + 1.0, None), x, None, length=3)  # scan + sin, add
        # gt, the predicate's conversion to a branch index, cond + cos + exp
        return jax.lax.cond(looped > 0, jnp.cos, jnp.exp, looped)

    assert count_equations(jax.make_jaxpr(body)(1.0).jaxpr) == 8


def test_an_accelerator_unrolls_small_env_steps_and_keeps_physics_steps_rolled(monkeypatch):
    """Unrolling a MuJoCo step 8 times multiplied its compilation; small steps keep the 8."""
    from jaxrl.core import platform
    from jaxrl.loops.device import env_step_equations

    env = make_device_env("phys2d/CartPole-v1")
    states, _ = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    keys = jax.random.split(jax.random.PRNGKey(1), (4, 2))
    assert env_step_equations(env, states, keys) == 0  # XLA:CPU: not counted, never unrolled
    assert platform.scan_unroll(0) == 1
    monkeypatch.setattr(platform.jax, "default_backend", lambda: "gpu")
    small = env_step_equations(env, states, keys)
    assert 20 < small < platform.SMALL_STEP_EQUATIONS
    assert platform.scan_unroll(small) == platform.ACCELERATOR_SCAN_UNROLL

    traces = []

    def heavy_step(state, action, keys):  # a stand-in for a physics step: thousands of equations
        traces.append(1)
        out = env.step(state, action, keys)
        obs = out.obs
        for _ in range(platform.SMALL_STEP_EQUATIONS):
            obs = obs * 1.0001
        return out._replace(obs=obs)

    heavy_env = dataclasses.replace(env, step=heavy_step)
    heavy = env_step_equations(heavy_env, states, keys)
    assert heavy > platform.SMALL_STEP_EQUATIONS
    assert platform.scan_unroll(heavy) == 1
    assert env_step_equations(heavy_env, states, keys) == heavy
    assert len(traces) == 1  # counted once per env, however often a program traces its step


def test_a_padded_piece_runs_the_real_iterations_and_leaves_the_rest_untouched():
    """The CLI's pieces all run at one length (one compilation); past num_iterations nothing moves."""
    program = make_program("ppo", TINY_PPO)
    assert program.num_iterations == 3
    carry = program.init(jax.random.PRNGKey(2))
    whole, metrics = jax.jit(program.run)(carry, jnp.arange(3))
    padded, padded_metrics = jax.jit(program.run_padded)(carry, jnp.arange(5))
    _assert_trees_close(padded, whole)  # one more update would move the weights by ~1e-4
    # (the two programs may round differently: XLA fuses them apart)
    np.testing.assert_allclose(padded_metrics["value_loss"][:3], metrics["value_loss"], rtol=1e-6)
    assert np.isnan(padded_metrics["value_loss"][3:]).all()


def test_a_padded_piece_traces_its_iteration_once():
    """The skipped iterations' metric shapes come from the same trace as the scan's step (a physics
    env's step takes seconds to trace)."""
    traces = []

    def step(carry, index):
        traces.append(index)
        return carry + 1.0, {"x": carry * index}

    program = DeviceProgram(init=None, step=step, num_iterations=2, unit="update", steps_per_iteration=1)
    carry, metrics = jax.jit(program.run_padded)(jnp.float32(0.0), jnp.arange(4))
    assert len(traces) == 1
    assert float(carry) == 2.0 and np.isnan(metrics["x"][2:]).all() and metrics["x"][1] == 1.0


def test_recurrent_ppo_runs_in_the_device_loop():
    config = dataclasses.replace(TINY_PPO, policy="lstm", seq_len=8, lstm_hidden_size=16, num_minibatches=2)
    result = jax.jit(make_train("ppo", config))(jax.random.PRNGKey(0))
    assert result.metrics["policy_loss"].shape == (config.num_updates,)
    assert np.all(np.isfinite(result.metrics["value_loss"]))
    assert int(result.state.update_step) == config.num_updates


@pytest.mark.parametrize("algorithm, config_cls", [("td3", TD3Config), ("sac", SACConfig)])
def test_off_policy_schedule_in_the_device_loop(algorithm, config_cls):
    config = config_cls(env="phys2d/Pendulum-v0", total_timesteps=600, learning_starts=200, log_every=200,
                        batch_size=32, buffer_size=1000, hidden_sizes=(16, 16), num_envs=2)
    result = jax.jit(make_train(algorithm, config))(jax.random.PRNGKey(0))
    critic_loss = np.asarray(result.metrics["critic_loss"])
    np.testing.assert_array_equal(np.asarray(result.metrics["env_steps"]), [200, 400, 600])
    assert np.isnan(critic_loss[0]) and np.all(np.isfinite(critic_loss[1:]))  # no update before learning_starts
    # Pendulum episodes last 200 vector steps: each of the 2 envs ends one in the second record, and
    # episodic_return stays the mean of the finished ones afterwards (the same meaning as the host loop's).
    np.testing.assert_array_equal(np.asarray(result.metrics["episodes"]), [0, 2, 2])
    np.testing.assert_array_equal(np.isfinite(result.metrics["episodic_return"]), [False, True, True])
    assert result.metrics["episodic_return"][1] == result.metrics["episodic_return"][2]


def test_device_loop_learns_cartpole():
    # (The host loop's learning smoke test is tests/loops/test_host_loop.py::test_ppo_learns_cartpole_far_beyond_random.)
    config = PPOConfig(env="phys2d/CartPole-v1", total_timesteps=40_000, progress=False)
    # seeds 1 and 2, compiled as users' programs are: this one runs long enough for that to pay
    device = train_seeds_at_users_optimisation("ppo", config)
    # Mean over the last 10 updates (one update's few finished episodes are noisy).
    device_returns = np.nanmean(device.metrics["episodic_return"][:, -10:], axis=1)
    # Random play scores ~22; both seeds should be far above it after 40k of the ~100k steps that solve it.
    assert min(device_returns) > 100, device_returns


def test_final_returns_takes_the_last_finite_value():
    values = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, np.nan, np.nan, np.nan], [5.0, 6.0, 7.0, 8.0]])
    np.testing.assert_array_equal(final_returns(values), [3.0, np.nan, 8.0])


def test_run_device_writes_per_seed_and_aggregate_results(tmp_path):
    result = run_device("ppo", TINY_PPO, num_seeds=2, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["seeds"] == [1, 2] and len(summary["final_episodic_return"]) == 2
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == TINY_PPO.num_updates
    assert len(json.loads(lines[-1])["episodic_return_per_seed"]) == 2
    for seed in (1, 2):
        saved = json.loads((tmp_path / "run" / f"seed_{seed}" / "config.json").read_text())
        assert saved["config"]["seed"] == seed
        assert list((tmp_path / "run" / f"seed_{seed}" / "checkpoints").glob("ckpt_*.msgpack"))
    assert result.metrics["episodic_return"].shape == (2, TINY_PPO.num_updates)


def test_uneven_device_split_is_a_value_error_with_the_numbers():
    mesh = env_mesh(1)
    with pytest.raises(ValueError, match=r"num_envs \(3\) must be divisible by the number of devices \(2\)"):
        from jaxrl.distributed import check_divisible

        check_divisible(3, type("FakeMesh", (), {"size": 2})())
    assert mesh.size == 1
    with pytest.raises(ValueError, match=r"devices must be in \[1, \d+\]"):
        env_mesh(10_000)


def test_target_return_stops_the_device_loop_at_the_end_of_the_piece(tmp_path):
    config = dataclasses.replace(TINY_PPO, total_timesteps=10 * 4 * 32, checkpoint_every=2, target_return=1.0)
    result = run_device("ppo", config, run_dir=tmp_path / "run")
    # Any finished CartPole episode returns >= 1, so the first record with an episode triggers the stop
    # and the run ends with the piece (2 updates) that holds it.
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    stops = [r["update"] for r in records if "stop_reason" in r]
    assert stops and "target return 1.0 reached" in records[stops[0] - 1]["stop_reason"]
    assert len(records) == result.metrics["episodic_return"].shape[1] == 2 * ((stops[0] + 1) // 2) < 10
    # the summary (results.json, the CLI's line) says why the run is short
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert result.summary["stop_reason"] == results["stop_reason"] == records[stops[0] - 1]["stop_reason"]
    assert run_device("ppo", dataclasses.replace(TINY_PPO, total_timesteps=4 * 32)).summary["stop_reason"] is None


def test_stopping_rules_without_pieces_are_refused_not_ignored():
    config = dataclasses.replace(TINY_PPO, checkpoint_every=0, patience=3)
    with pytest.raises(ValueError, match="target_return and patience are checked after each piece"):
        run_device("ppo", config)


def test_the_device_loop_writes_a_timing_row_per_update(tmp_path):
    run_device("ppo", TINY_PPO, num_seeds=2, run_dir=tmp_path / "run")
    timing = [json.loads(line) for line in (tmp_path / "run" / "timing.jsonl").read_text().splitlines()]
    assert [row["update"] for row in timing] == list(range(1, TINY_PPO.num_updates + 1))
    assert all(row["time_s"] > 0 and row["sps"] > 0 for row in timing)
    assert "time_s" not in (tmp_path / "run" / "metrics.jsonl").read_text()  # metrics stay reproducible


def test_matmul_precision_reaches_every_product_of_the_device_program():
    """JAX fixes a product's precision when it traces it: the program's pieces trace inside the config's."""
    key = jax.random.PRNGKey(0)
    highest = jax.jit(make_train("ppo", dataclasses.replace(TINY_PPO, matmul_precision="highest"))).lower(key)
    default = jax.jit(make_train("ppo", TINY_PPO)).lower(key)
    products = [line for line in highest.as_text().splitlines() if "stablehlo.dot_general" in line]
    assert products and all("precision = [HIGHEST, HIGHEST]" in line for line in products)
    assert "HIGHEST" not in default.as_text()
    with pytest.raises(ValueError, match="matmul_precision must be one of .*got 'tf32'"):
        dataclasses.replace(TINY_PPO, matmul_precision="tf32").validate()
