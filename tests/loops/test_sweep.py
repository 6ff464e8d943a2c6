"""--sweep: a grid x seeds in one compiled call, a run per point, the summary's statistics. (That a vmapped
hyper-parameter equals a separate run is tested in test_device_loop.py.)"""

import json

import numpy as np
import pytest

import jaxrl
from jaxrl.cli import main
from jaxrl.core.aggregate import interquartile_mean
from jaxrl.loops.sweep import parse_sweep, run_sweep, sweep_points

CONFIG = jaxrl.config_for("ppo", "phys2d/CartPole-v1", total_timesteps=2 * 4 * 32, num_envs=4, num_steps=32,
                          hidden_sizes=(16,), progress=False)


def test_the_cli_writes_a_run_per_point_and_a_summary(tmp_path, capsys):
    run_dir = tmp_path / "sweep"
    assert main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--loop", "device", "--num-envs", "4", "--num-steps",
                 "32", "--hidden-sizes", "16", "--total-timesteps", "256", "--sweep", "learning_rate=1e-3,3e-3",
                 "--sweep", "gamma=0.9,0.99", "--num-seeds", "5", "--run-dir", str(run_dir), "--no-progress"]) == 0
    summary = json.loads((run_dir / "sweep.json").read_text())
    assert [(p["learning_rate"], p["gamma"]) for p in summary["points"]] == [
        (1e-3, 0.9), (1e-3, 0.99), (3e-3, 0.9), (3e-3, 0.99)]
    for index, point in enumerate(summary["points"]):
        finals = [value for value in point["final_returns"].values() if value is not None]
        assert point["iqm"] == pytest.approx(interquartile_mean(np.array(finals)))
        assert point["iqm_ci"][0] <= point["iqm"] <= point["iqm_ci"][1]
        point_dir = run_dir / f"point_{index}__learning_rate={point['learning_rate']:g}__gamma={point['gamma']:g}"
        saved = json.loads((point_dir / "config.json").read_text())["config"]
        assert (saved["learning_rate"], saved["gamma"]) == (point["learning_rate"], point["gamma"])
    assert (run_dir / "sweep.png").stat().st_size > 1000 and "| learning_rate | gamma |" in (
        run_dir / "sweep.md").read_text()
    assert main(["eval", str(run_dir / "point_3__learning_rate=0.003__gamma=0.99" / "seed_5"), "--episodes", "1"]) == 0
    capsys.readouterr()
    for command in ("eval", "plot"):  # the sweep's own dir is not a run: the error names a point that is
        assert main([command, str(run_dir)]) == 1
        assert capsys.readouterr().err.strip().endswith(
            f"{run_dir} is a sweep (its summary: sweep.md and sweep.png); each point is a run, e.g. "
            f"{run_dir / 'point_0__learning_rate=0.001__gamma=0.9'}")
    # a sweep dir is a run dir: a second sweep into it is refused
    assert main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--loop", "device", "--sweep", "gamma=0.9",
                 "--run-dir", str(run_dir)]) == 1
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize("texts, message", [
    (["learning_rate"], "expected FIELD=V1,V2,... with numbers"),
    (["gamma=0.9", "gamma=0.99"], "--sweep names gamma twice"),
    (["num_envs=2,4"], "ppo can sweep only these fields in one compiled call: learning_rate"),
    (["clip_coef=-1"], "clip_coef must be"),
])
def test_bad_sweeps_are_named(texts, message):
    with pytest.raises(ValueError, match=message):
        sweep_points(CONFIG, "ppo", parse_sweep(texts))


@pytest.mark.parametrize("extra, message", [
    (["--sweep", "lr=1e-3,3e-3"], "--sweep lr: ppo can sweep only these fields"),
    (["--sweep", "gamma=0.9,0.99", "--eval-every", "2"], "so eval_every cannot act part way"),
])
def test_the_cli_names_a_bad_sweep_in_one_line_before_announcing_it(tmp_path, capsys, extra, message):
    """The "compiling and running N point(s)" line came before the check that refused the sweep."""
    assert main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--run-dir", str(tmp_path / "sweep"), *extra]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "sweep").exists()


def test_a_field_left_none_is_swept_not_ignored():
    """A critic learning rate or target KL left None builds the program without a critic optimizer
    or early stop; sweeping them must build it with them (they were once swept and read by nothing)."""
    result = run_sweep("ppo", CONFIG, {"critic_learning_rate": [1e-30, 1e-2], "target_kl": [1e-12]}, 1)
    value_loss, epochs_run = result.metrics["value_loss"][:, 0], result.metrics["epochs_run"][:, 0]
    assert not np.allclose(value_loss[0, 1:], value_loss[1, 1:])  # the critic's rate is read
    # and the target is read: of 20 epochs each update runs 2 (one minibatch an epoch, so the first
    # epoch's KL is measured before any step and is 0; the second's is not)
    assert CONFIG.update_epochs == 20 and np.all(epochs_run == 2)
