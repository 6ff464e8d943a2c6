"""An algorithm written outside jaxrl (tests/plugins/jaxrl_a2c.py) runs through the whole product:
registered from Python, or installed as a ``jaxrl.algorithms`` entry point for the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxrl
from jaxrl.agents.registry import ALGORITHMS, OFF_POLICY, ON_POLICY, Algorithm, register_algorithm

PLUGINS = Path(__file__).with_name("plugins")


@pytest.fixture
def a2c(monkeypatch):
    """The plugin module, imported (which registers ``a2c``) and unregistered afterwards."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    import jaxrl_a2c

    yield jaxrl_a2c
    ALGORITHMS.pop("a2c", None)
    sys.modules.pop("jaxrl_a2c", None)


def test_a_registered_algorithm_learns_in_the_device_loop_vmapped_over_seeds(a2c):
    config = jaxrl.config_for("a2c", "phys2d/CartPole-v1", total_timesteps=60_000, progress=False)
    assert isinstance(config, a2c.A2CConfig) and config.learning_rate == 2.5e-3
    out = jax.jit(jax.vmap(jaxrl.make_train("a2c", config)))(jax.random.split(jax.random.PRNGKey(0), 4))
    returns = jaxrl.final_returns(np.asarray(out.metrics["episodic_return"]))
    assert returns.mean() > 100, returns  # a uniformly random policy: ~22


def test_a_registered_algorithm_trains_checkpoints_loads_and_evaluates_in_the_host_loop(a2c, tmp_path):
    config = jaxrl.config_for("a2c", "CartPole-v1", total_timesteps=2048, progress=False)
    result = jaxrl.train("a2c", config, tmp_path / "run")
    loaded = jaxrl.load(tmp_path / "run")
    assert jax.tree.all(jax.tree.map(np.array_equal, loaded.state.params, result.state.params))
    assert jaxrl.evaluate("a2c", loaded.state, episodes=2)["episodes"] == 2


def test_registration_refuses_what_the_loops_could_not_run(a2c):
    entry = ALGORITHMS["a2c"]
    for bad, message in [
        (entry, "'a2c' is already registered"),
        (entry._replace(name="A2C!"), "an algorithm name is lower-case letters"),
        (entry._replace(name="a2c2", schedule="sometimes"), "schedule must be ON_POLICY"),
        (entry._replace(name="a2c2", schedule=OFF_POLICY), "config_cls must be a dataclass subclass of ReplayConfig"),
        (entry._replace(name="a2c2", config_cls=dict), "config_cls must be a dataclass subclass of OnPolicyConfig"),
        (entry._replace(name="a2c2", agent_for=None), "agent_for must be a function"),
    ]:
        with pytest.raises(ValueError, match=message):
            register_algorithm(bad)
    assert "a2c2" not in ALGORITHMS and entry.schedule == ON_POLICY and isinstance(entry, Algorithm)
    with pytest.raises(ValueError, match="unknown algorithm 'nope'.*jaxrl.register_algorithm or a 'jaxrl.algorithms'"):
        jaxrl.config_for("nope", "CartPole-v1")


def _install_entry_points(site: Path, **entry_points: str) -> dict[str, str]:
    """A package's metadata with ``jaxrl.algorithms`` entry points, as pip would install it, and the
    environment of a process that sees it (and tests/plugins)."""
    info = site / "jaxrl_test_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jaxrl-test-plugins\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[jaxrl.algorithms]\n{lines}")
    (site / "broken_plugin.py").write_text("raise ImportError('needs a package that is not installed')\n")
    path = os.pathsep.join([str(site), str(PLUGINS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jaxrl.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_an_installed_entry_point_gives_the_algorithm_its_cli_and_a_broken_one_only_a_warning(tmp_path):
    env = _install_entry_points(tmp_path / "site", a2c="jaxrl_a2c", broken="broken_plugin")
    helped = _cli(env, "train", "a2c", "--help")
    assert helped.returncode == 0 and "--ent-coef" in helped.stdout and "entropy bonus" in helped.stdout
    assert "the jaxrl.algorithms entry point 'broken' (broken_plugin) failed to load: ImportError" in helped.stderr
    run_dir = tmp_path / "run"
    trained = _cli(env, "train", "a2c", "--env", "CartPole-v1", "--total-timesteps", "1024", "--no-progress",
                   "--run-dir", str(run_dir))
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout.splitlines()[-1])["env_steps"] == 1024
    evaluated = _cli(env, "eval", str(run_dir), "--episodes", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout.splitlines()[-1])["episodes"] == 2
