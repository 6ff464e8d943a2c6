"""A fresh run never writes into another run's directory; one writer at a time; time-based checkpoints."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest

import jaxrl
from jaxrl.cli import main
from jaxrl.io.checkpoint import list_checkpoints
from jaxrl.io.run_dir import LOCK_FILE, RunDirError, acquire_lock, next_free_run_dir, release_lock

PPO = jaxrl.config_for("ppo", "CartPole-v1", total_timesteps=2 * 8 * 32, progress=False)


def snapshot(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()
            and "tensorboard" not in p.parts}


def test_a_fresh_run_refuses_a_directory_that_holds_a_run_and_changes_nothing(tmp_path):
    jaxrl.train("ppo", PPO, tmp_path / "run")
    before = snapshot(tmp_path / "run")
    sac = jaxrl.config_for("sac", "Pendulum-v1", total_timesteps=300, learning_starts=100, log_every=100,
                           progress=False)
    for algorithm, config in (("ppo", PPO), ("sac", sac)):
        with pytest.raises(RunDirError, match=rf"already holds a run; continue it with `jaxrl train {algorithm} "
                                              r"--resume .*`, replace it with --overwrite"):
            jaxrl.train(algorithm, config, tmp_path / "run")
    assert snapshot(tmp_path / "run") == before  # config, metrics and checkpoints untouched
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # the refused runs left no lock behind
    jaxrl.train("ppo", PPO, tmp_path / "run", resume=True)  # the run is still resumable


def test_overwrite_replaces_the_old_run(tmp_path):
    jaxrl.train("ppo", PPO, tmp_path / "run")
    (tmp_path / "run" / "notes.txt").write_text("mine")
    sac = jaxrl.config_for("sac", "Pendulum-v1", total_timesteps=300, learning_starts=100, log_every=100,
                           progress=False, checkpoint_every=0)
    jaxrl.train("sac", sac, tmp_path / "run", overwrite=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["algorithm"] == "sac"
    assert [json.loads(line)["record"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()] \
        == [1, 2, 3]
    assert len(list_checkpoints(tmp_path / "run")) == 1  # only SAC's final one
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"  # files jaxrl did not write stay


def test_the_cli_default_run_dir_takes_the_next_free_suffix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["train", "ppo", "--env", "CartPole-v1", "--total-timesteps", "256", "--no-progress"]
    assert main(args) == 0 and main(args) == 0
    outputs = [json.loads(line)["run_dir"] for line in capsys.readouterr().out.splitlines()]
    assert outputs == ["runs/CartPole-v1__ppo__1", "runs/CartPole-v1__ppo__1__2"]
    assert next_free_run_dir(tmp_path / "runs" / "CartPole-v1__ppo__1").name == "CartPole-v1__ppo__1__3"
    assert main([*args, "--run-dir", "runs/CartPole-v1__ppo__1"]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "ppo", "--resume", "runs/CartPole-v1__ppo__1", "--overwrite"]) == 1
    assert "--overwrite would delete it" in capsys.readouterr().err


def test_a_live_writer_locks_the_directory_and_a_dead_ones_lock_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        (run_dir / LOCK_FILE).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        with pytest.raises(RunDirError, match=rf"being written by process {live.pid} on .*wait for it"):
            jaxrl.train("ppo", PPO, run_dir)
        assert not (run_dir / "config.json").exists()
        (run_dir / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
        jaxrl.train("ppo", PPO, run_dir)  # a stale lock: the run goes ahead
        assert (run_dir / "config.json").exists() and not (run_dir / LOCK_FILE).exists()
    finally:
        live.kill()
        live.wait()


def test_the_lock_names_its_owner_and_is_released_by_it_only(tmp_path):
    path = acquire_lock(tmp_path / "run")
    assert json.loads(path.read_text()) == {"pid": os.getpid(), "host": socket.gethostname()}
    release_lock(path)
    assert not path.exists()


def test_checkpoint_seconds_saves_between_scheduled_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr("jaxrl.loops.run.WRITE_SHARE", 1.0)  # writes of a few ms never stretch the interval here
    sac = jaxrl.config_for("sac", "Pendulum-v1", num_envs=1, total_timesteps=500, learning_starts=100, log_every=100,
                           progress=False, checkpoint_every=0, checkpoint_seconds=1e-6, keep_checkpoints=10,
                           updates_per_step=1, batch_size=16, hidden_sizes=(8,))  # small: only the saves matter
    jaxrl.train("sac", sac, tmp_path / "run")
    # checkpoint_every 0 means "final only", but every record is past the (tiny) time interval
    assert [int(p.stem.split("_")[1]) for p in list_checkpoints(tmp_path / "run")] == [100, 200, 300, 400, 500]
    with pytest.raises(ValueError, match="checkpoint_seconds must be a positive number"):
        jaxrl.config_for("sac", "Pendulum-v1", checkpoint_seconds=0.0).validate()


@pytest.mark.parametrize("flag", ["--target-return", "--target-eval-return"])
def test_a_target_return_that_would_stop_at_once_or_never_is_refused_in_one_line(flag, capsys, tmp_path):
    argv = ["train", "ppo", flag, "-inf", "--eval-every", "1", "--run-dir", str(tmp_path / "run"), "--no-progress"]
    assert main(argv) == 1
    name = flag[2:].replace("-", "_")
    assert capsys.readouterr().err == f"jaxrl: error: {name} must be a finite return (or None), got -inf\n"
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=f"^{name} must be a finite return \\(or None\\), got inf$"):
        jaxrl.config_for("ppo", "CartPole-v1", eval_every=1, **{name: math.inf}).validate()
    with pytest.raises(ValueError, match=f"^{name} must not be NaN$"):  # the field type check's
        jaxrl.config_for("ppo", "CartPole-v1", eval_every=1, **{name: math.nan}).validate()


@pytest.mark.parametrize("seed", [2**32, 2**70, -1])
def test_seeds_that_would_alias_are_refused_in_one_line(seed, capsys):
    assert main(["train", "ppo", "--seed", str(seed), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed must be in [0, 2**32)" in err
    with pytest.raises(ValueError, match=r"pass 2\*\*32 - 1"):
        jaxrl.run_device("ppo", jaxrl.config_for("ppo", "phys2d/CartPole-v1", seed=2**32 - 2), num_seeds=3)


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    jaxrl.train("ppo", PPO, tmp_path / "run")
    assert main(["train", "ppo", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "nothing to train: the run in" in capsys.readouterr().err


def test_a_file_where_a_run_dir_goes_is_named_in_one_line_and_left_alone(tmp_path, capsys):
    """A file as --run-dir (or above it) gave "[Errno 17] File exists"; eval and --resume said the
    directory "does not exist"."""
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for run_dir in (afile, afile / "sub" / "run"):
        assert main(["train", "ppo", "--env", "CartPole-v1", "--run-dir", str(run_dir), "--no-progress"]) == 1
        assert capsys.readouterr().err == f"jaxrl: error: cannot use {run_dir} as a run directory: {afile} is a file\n"
    for command in (["eval", str(afile)], ["train", "ppo", "--resume", str(afile)]):
        assert main(command) == 1
        assert capsys.readouterr().err == f"jaxrl: error: {afile} is a file, not a run directory\n"
    assert afile.read_text() == "mine"


def test_a_missing_best_dir_says_where_the_best_agents_are_or_what_keeps_them(tmp_path, capsys):
    """jaxrl eval DIR/best of a device run (its bests are per seed) or of a run without --eval-every
    only said that the directory does not exist."""
    for run, seeds in (("device", (1, 2)), ("plain", ())):
        (tmp_path / run).mkdir()
        (tmp_path / run / "config.json").write_text("{}")
        for seed in seeds:
            (tmp_path / run / f"seed_{seed}" / "best").mkdir(parents=True)
    assert main(["eval", str(tmp_path / "device" / "best")]) == 1
    assert capsys.readouterr().err == (f"jaxrl: error: run directory {tmp_path}/device/best does not exist; this "
                                       f"device run keeps each seed's in {tmp_path}/device/seed_<s>/best, e.g. "
                                       f"{tmp_path}/device/seed_1/best\n")
    assert main(["eval", str(tmp_path / "plain" / "best")]) == 1
    assert capsys.readouterr().err.endswith("does not exist (a run keeps its best evaluated agent only with "
                                            "--eval-every)\n")


def test_a_bare_interrupt_prints_a_line_that_says_nothing_was_saved(monkeypatch, capsys):
    import jaxrl.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.main.__globals__, "plot_command", interrupted)
    assert main(["plot", "anywhere"]) == 130
    assert capsys.readouterr().err.strip() == "jaxrl: interrupted; nothing saved"


def test_the_clock_interval_stretches_so_slow_writes_take_at_most_2_percent_of_the_run():
    import time
    from types import SimpleNamespace

    from jaxrl.loops.run import RunRecorder, clock_interval

    assert clock_interval(120.0, 0.5) == 120.0  # a small checkpoint: the configured interval
    assert clock_interval(120.0, 6.0) == pytest.approx(300.0)  # a 6 s write (a full Atari replay): 2% of 300 s
    recorder = SimpleNamespace(config=SimpleNamespace(checkpoint_seconds=120.0), last_write_s=6.0,
                               on_checkpoint_schedule=lambda: False)
    recorder.last_checkpoint = time.perf_counter() - 200.0
    assert not RunRecorder.periodic(recorder)  # past 120 s, not yet 300 s
    recorder.last_checkpoint = time.perf_counter() - 301.0
    assert RunRecorder.periodic(recorder)
