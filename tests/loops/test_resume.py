"""Exact resume (device loop), learner-exact resume (host loops), Ctrl-C and SIGKILL safety."""

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from flax import serialization

from jaxrl.agents.ppo import PPOConfig
from jaxrl.agents.sac import SACConfig
from jaxrl.api import evaluate, load, train
from jaxrl.io.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint_with_extra,
    save_checkpoint,
)
from jaxrl.io.metrics import read_metrics
from jaxrl.loops import host
from jaxrl.loops.device_run import run_device

DEVICE_PPO = PPOConfig(env="phys2d/CartPole-v1", total_timesteps=4 * 4 * 32, num_envs=4, num_steps=32,
                       update_epochs=2, num_minibatches=2, progress=False, checkpoint_every=2, keep_checkpoints=10)
DEVICE_SAC = SACConfig(env="phys2d/Pendulum-v0", total_timesteps=800, learning_starts=200, log_every=200,
                       batch_size=32, buffer_size=50_000, hidden_sizes=(16, 16), num_envs=2, progress=False,
                       checkpoint_every=2, keep_checkpoints=10)
HOST_PPO = PPOConfig(env="CartPole-v1", total_timesteps=8 * 4 * 32, num_envs=4, num_steps=32, update_epochs=2,
                     num_minibatches=2, norm_obs=True, hidden_sizes=(16, 16), progress=False, checkpoint_every=2,
                     keep_checkpoints=10)


def _saved(path):
    meta, state, extra = read_checkpoint_with_extra(path)
    return meta, jax.tree.leaves(state), jax.tree.leaves(extra)


def _interrupted_copy(run_dir, copy_dir, keep: int):
    """``copy_dir``: ``run_dir`` as if killed right after its ``keep``-th checkpoint, with a torn
    last metrics line (a write cut off by the kill)."""
    shutil.copytree(run_dir, copy_dir)
    for path in list_checkpoints(copy_dir)[keep:]:
        path.unlink()
    with open(copy_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"update": 99, "env_st')


@pytest.mark.parametrize("algorithm, config", [
    ("ppo", DEVICE_PPO), ("sac", DEVICE_SAC),
    # pieces of one update (evaluations) between the checkpoints; the evaluations resume too
    ("ppo", dataclasses.replace(DEVICE_PPO, eval_every=1, eval_episodes=2))])
def test_device_run_resumed_from_half_way_is_bit_identical(tmp_path, algorithm, config):
    run_device(algorithm, config, 2, tmp_path / "whole")
    _interrupted_copy(tmp_path / "whole", tmp_path / "resumed", keep=1)
    resumed = run_device(algorithm, config, 2, tmp_path / "resumed", resume=True)
    assert resumed.summary["resumed_from_" + ("update" if algorithm == "ppo" else "record")] == 2
    whole_meta, whole_carry, _ = _saved(latest_checkpoint(tmp_path / "whole"))
    resumed_meta, resumed_carry, _ = _saved(latest_checkpoint(tmp_path / "resumed"))
    assert whole_meta["env_steps"] == resumed_meta["env_steps"]
    # Train states, optimizer states, env states, keys, replay buffers, episode statistics: all of it.
    assert len(whole_carry) == len(resumed_carry)
    for whole, again in zip(whole_carry, resumed_carry, strict=True):
        np.testing.assert_array_equal(whole, again)
    assert (tmp_path / "whole" / "metrics.jsonl").read_text() == (tmp_path / "resumed" / "metrics.jsonl").read_text()
    if config.eval_every:
        assert [len(list_checkpoints(tmp_path / run)) for run in ("whole", "resumed")] == [2, 2]  # on schedule only
        assert all("eval_return" in record for record in read_metrics(tmp_path / "resumed"))
        best = [max(r["eval_return_per_seed"][i] for r in read_metrics(tmp_path / "whole")) for i in range(2)]
        assert whole_meta["best_eval"] == resumed_meta["best_eval"] == best  # the best so far is resumed too
        for seed in (1, 2):  # each seed's best agent: the resumed run kept the same one
            whole_best, resumed_best = (_saved(latest_checkpoint(tmp_path / run / f"seed_{seed}" / "best"))
                                        for run in ("whole", "resumed"))
            assert whole_best[0]["eval_return"] == resumed_best[0]["eval_return"]
            for whole, again in zip(whole_best[1], resumed_best[1], strict=True):
                np.testing.assert_array_equal(whole, again)


def test_host_run_resumes_the_learner_exactly_and_continues_its_metrics(tmp_path, monkeypatch):
    train("ppo", HOST_PPO, tmp_path / "whole")
    _interrupted_copy(tmp_path / "whole", tmp_path / "resumed", keep=2)  # checkpoint after update 4
    checkpoint = list_checkpoints(tmp_path / "resumed")[-1]
    restored = []
    original = host.committed
    monkeypatch.setattr(host, "committed", lambda state, mesh=None: restored.append(state) or original(state, mesh))
    result = train("ppo", HOST_PPO, tmp_path / "resumed", resume=True)

    meta, saved_leaves, _ = _saved(checkpoint)
    assert meta["update"] == 4
    # Parameters, optimizer state and observation-normalisation statistics come back bit for bit.
    restored_leaves = jax.tree.leaves(serialization.to_state_dict(jax.device_get(restored[0])))
    for saved, again in zip(saved_leaves, restored_leaves, strict=True):
        np.testing.assert_array_equal(saved, again)
    assert float(np.asarray(restored[0].obs_stats.count)) > 0
    assert int(result.state.update_step) == HOST_PPO.num_updates

    whole = read_metrics(tmp_path / "whole")
    resumed = read_metrics(tmp_path / "resumed")
    assert [r["update"] for r in resumed] == list(range(1, HOST_PPO.num_updates + 1))  # no gap, no duplicate
    assert resumed[:4] == whole[:4]
    assert [r["env_steps"] for r in resumed] == [HOST_PPO.batch_size * i for i in range(1, 9)]
    assert resumed[4]["episodes"] >= resumed[3]["episodes"] > 0  # the episode count carries on
    timing = read_metrics(tmp_path / "resumed", "timing.jsonl")
    assert [t["update"] for t in timing] == list(range(1, HOST_PPO.num_updates + 1))
    assert timing[4]["time_s"] > timing[3]["time_s"]  # the clock carries on too


def test_off_policy_host_resume_restores_replay_buffer_and_random_action_stream(tmp_path):
    config = SACConfig(env="Pendulum-v1", total_timesteps=600, learning_starts=400, log_every=100, batch_size=32,
                       buffer_size=100_000, hidden_sizes=(16, 16), progress=False, checkpoint_every=1,
                       keep_checkpoints=10)
    train("sac", config, tmp_path / "whole")
    _interrupted_copy(tmp_path / "whole", tmp_path / "resumed", keep=1)  # checkpoint after 100 steps, mid-episode
    # the buffer's 99,900 empty rows are not in the file (2.4 MB of steps when full)
    first = list_checkpoints(tmp_path / "resumed")[0]
    replay_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(read_checkpoint_with_extra(first)[2]["replay"]))
    assert replay_bytes > 2_000_000 and first.stat().st_size < 0.4 * replay_bytes
    train("sac", config, tmp_path / "resumed", resume=True)
    whole = read_checkpoint_with_extra(latest_checkpoint(tmp_path / "whole"))[2]["replay"]
    resumed = read_checkpoint_with_extra(latest_checkpoint(tmp_path / "resumed"))[2]["replay"]
    # 600 steps and three final-obs rows in both: the uninterrupted run's episodes end at 200, 400 and 600; the
    # resumed run's envs restarted after step 100, so its first episode is cut there and the next end at 300, 500
    assert int(whole["filled"][0]) == int(resumed["filled"][0]) == 603
    assert int(whole["is_step"].sum()) == int(resumed["is_step"].sum()) == 600

    def steps(replay, field):  # [600, ...]: the step rows in time order (the buffer did not wrap)
        return replay["steps"][field][replay["is_step"][:, 0], 0]

    # The first 100 steps are the restored ones, and the cut's final row holds step 99's true next
    # observation: the one the uninterrupted run observed at step 100.
    for field in ("obs", "actions", "rewards"):
        np.testing.assert_array_equal(steps(resumed, field)[:100], steps(whole, field)[:100])
    np.testing.assert_array_equal(resumed["steps"]["obs"][100], whole["steps"]["obs"][100])
    assert resumed["ends"][99, 0] and not whole["ends"][99, 0] and not resumed["is_step"][100, 0]
    assert not resumed["steps"]["terminated"][99, 0] and not resumed["steps"]["truncated"][99, 0]  # it bootstraps
    # The uniform random actions until learning_starts continue the same NumPy stream after the resume
    # (only the env's observations restart from a reset).
    np.testing.assert_array_equal(steps(resumed, "actions")[:400], steps(whole, "actions")[:400])
    assert not np.array_equal(steps(resumed, "obs")[100:400], steps(whole, "obs")[100:400])
    assert [r["record"] for r in read_metrics(tmp_path / "resumed")] == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_a_different_config_or_an_empty_run(tmp_path):
    train("ppo", dataclasses.replace(HOST_PPO, total_timesteps=2 * 4 * 32), tmp_path / "run")
    with pytest.raises(ValueError, match="different config.*learning_rate: saved 0.001, now 0.5"):
        train("ppo", dataclasses.replace(HOST_PPO, total_timesteps=2 * 4 * 32, learning_rate=0.5), tmp_path / "run",
              resume=True)
    with pytest.raises(ValueError, match="it is a ppo run"):
        train("sac", SACConfig(progress=False), tmp_path / "run", resume=True)
    for path in list_checkpoints(tmp_path / "run"):
        path.unlink()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train("ppo", dataclasses.replace(HOST_PPO, total_timesteps=2 * 4 * 32), tmp_path / "run", resume=True)


def _cli(*args):
    return [sys.executable, "-m", "jaxrl.cli", "train", "ppo", *args]


def _run_cli(*args):
    return subprocess.run(_cli(*args), check=False, capture_output=True, text=True, timeout=300)


def _wait_for_records(run_dir, count, process, limit=120.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (run_dir / "metrics.jsonl").is_file() and len(read_metrics(run_dir)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count} records within {limit} s")


CLI_RUN = ("--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "16", "--update-epochs", "1",
           "--hidden-sizes", "8", "--no-progress")


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run(tmp_path):
    run_dir = tmp_path / "run"
    total = 2 * 16 * 400  # 400 updates: long enough to interrupt
    process = subprocess.Popen(_cli(*CLI_RUN, "--total-timesteps", str(total), "--checkpoint-every", "0",
                                    "--run-dir", str(run_dir)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _wait_for_records(run_dir, 3, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "saved" in stderr
    records = read_metrics(run_dir)
    meta = read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]
    assert meta["update"] == records[-1]["update"] < 400  # the checkpoint matches the last logged update

    finished = _run_cli("--resume", str(run_dir), "--no-progress")
    assert finished.returncode == 0, finished.stderr
    assert [r["update"] for r in read_metrics(run_dir)] == list(range(1, 401))
    assert read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]["env_steps"] == total
    refused = _run_cli("--resume", str(run_dir), "--learning-rate", "0.1")
    assert refused.returncode == 1 and "drop --learning-rate" in refused.stderr


def test_a_budget_extended_on_resume_trains_on_as_if_it_had_been_the_budget_from_the_start(tmp_path):
    """With no schedule over the budget (no learning-rate annealing), a device run of 2 updates
    resumed with a budget of 4 ends bit-identical to a run of 4; config.json keeps the budgets it had."""
    import json

    whole = dataclasses.replace(DEVICE_PPO, anneal_lr=False)
    short = dataclasses.replace(whole, total_timesteps=whole.total_timesteps // 2)
    run_device("ppo", whole, 2, tmp_path / "whole")
    run_device("ppo", short, 2, tmp_path / "extended")
    extended = run_device("ppo", whole, 2, tmp_path / "extended", resume=True)
    assert extended.summary["env_steps_per_seed"] == whole.total_timesteps
    for left, right in zip(*(_saved(latest_checkpoint(tmp_path / run))[1] for run in ("whole", "extended")),
                           strict=True):
        np.testing.assert_array_equal(left, right)
    assert (tmp_path / "whole" / "metrics.jsonl").read_text() == (tmp_path / "extended" / "metrics.jsonl").read_text()
    saved = json.loads((tmp_path / "extended" / "config.json").read_text())
    assert (saved["config"]["total_timesteps"], saved["extended_from"]) == (whole.total_timesteps,
                                                                            [short.total_timesteps])
    assert (saved["loop"], saved["num_seeds"]) == ("device", 2)
    with pytest.raises(ValueError, match=r"total_timesteps: saved 512, now 256\)\ \(a resumed run's total_timesteps "
                                         r"may grow, not shrink\)$"):
        run_device("ppo", short, 2, tmp_path / "extended", resume=True)


def test_the_cli_extends_a_run_with_total_timesteps_and_refuses_to_shrink_it_in_one_line(tmp_path, capsys):
    import json

    from jaxrl.cli import main

    run_dir = tmp_path / "run"
    short = ("--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "32", "--update-epochs", "1")
    assert main(["train", "ppo", *short, "--total-timesteps", "128", "--no-progress", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    assert main(["train", "ppo", "--resume", str(run_dir), "--total-timesteps", "256", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"extending {run_dir} from 128 to 256 env steps: its schedules (learning rate, "
                          "exploration) now run over the new total\n")
    assert json.loads(out.splitlines()[-1])["env_steps"] == 256
    records = read_metrics(run_dir)
    assert [record["update"] for record in records] == [1, 2, 3, 4]
    first = next(record["episodic_return"] for record in records if record["episodic_return"] is not None)
    assert f"episodic return {first:.1f} " in err  # the whole run's curve, not only the extension's
    saved = (run_dir / "config.json").read_bytes()
    assert json.loads(saved)["extended_from"] == [128]
    for argv, message in (
            (["--total-timesteps", "192"], f"--total-timesteps 192 would shrink {run_dir}'s budget of 256; --resume "
                                           "can only extend it"),
            (["--total-timesteps", "512", "--num-steps", "16"], "drop --num-steps")):
        assert main(["train", "ppo", "--resume", str(run_dir), *argv, "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.splitlines()) == 1, err
    assert (run_dir / "config.json").read_bytes() == saved
    stopped = tmp_path / "stopped"  # a run stopped by a stopping rule stays stopped: no budget restarts it
    assert main(["train", "ppo", *short, "--total-timesteps", "256", "--target-return", "5", "--no-progress",
                 "--run-dir", str(stopped)]) == 0
    capsys.readouterr()
    saved = {path.name: path.read_bytes() for path in stopped.iterdir() if path.is_file()}
    assert main(["train", "ppo", "--resume", str(stopped), "--total-timesteps", "512", "--no-progress"]) == 1
    assert re.fullmatch(f"jaxrl: error: {re.escape(str(stopped))} stopped \\(target return 5.0 reached \\([0-9.]+\\)\\) "
                        "before its budget, and a run stopped by a stopping rule stays stopped: --total-timesteps "
                        "cannot extend it\n", capsys.readouterr().err)
    assert {path.name: path.read_bytes() for path in stopped.iterdir() if path.is_file()} == saved


SAC_CLI_RUN = ("--env", "Pendulum-v1", "--num-envs", "2", "--learning-starts", "200", "--hidden-sizes", "8",
               "--log-every", "50", "--no-progress")


@pytest.mark.parametrize("algorithm, signum, exit_code, said", [
    ("ppo", signal.SIGINT, 130, "interrupted after"),
    ("ppo", signal.SIGTERM, 143, "stopped by SIGTERM after"),
    ("sac", signal.SIGTERM, 143, "stopped by SIGTERM after"),
])
def test_a_stop_signal_to_the_process_group_saves_with_async_envs(tmp_path, algorithm, signum, exit_code, said):
    # A terminal's Ctrl-C reaches the whole process group, env workers included: they ignore it and leave the
    # shutdown to the parent. SLURM's SIGTERM (what `kill`, Docker and Kubernetes send too) reaches them as well
    # and ends them (gymnasium stops workers with it): the parent then saves its last complete update or step.
    # Either way the run saves and exits with the shell's status for the signal.
    run_dir, unit = tmp_path / "run", "update" if algorithm == "ppo" else "record"
    flags = (*CLI_RUN, "--total-timesteps", str(2 * 16 * 400)) if algorithm == "ppo" else \
        (*SAC_CLI_RUN, "--total-timesteps", "40000")
    command = [sys.executable, "-m", "jaxrl.cli", "train", algorithm, *flags, "--vectorization", "async",
               "--checkpoint-every", "0", "--run-dir", str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _wait_for_records(run_dir, 3, process)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    assert said in stderr and "saved" in stderr and "--resume" in stderr
    assert f"stopping after the current {'update' if algorithm == 'ppo' else 'env step'} to save" in stderr
    assert "KeyboardInterrupt" not in stderr and "Traceback" not in stderr
    meta = read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]
    assert meta[unit] == read_metrics(run_dir)[-1][unit] < 400
    if algorithm == "ppo" and signum == signal.SIGTERM:  # (the Ctrl-C test above resumes its run to the end)
        finished = _run_cli("--resume", str(run_dir), "--no-progress")
        assert finished.returncode == 0, finished.stderr
        assert [r["update"] for r in read_metrics(run_dir)] == list(range(1, 401))


def test_a_second_stop_signal_stops_at_once_and_the_handlers_are_restored():
    from jaxrl.loops.guards import StopRequest

    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as request:
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.requested and request.signum == signal.SIGTERM
        assert request.agreed()  # one process: its own request
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before and StopRequest().agreed() is False


def test_sigkill_during_training_leaves_a_loadable_checkpoint_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(_cli(*CLI_RUN, "--total-timesteps", str(2 * 16 * 60), "--checkpoint-every", "1",
                                    "--keep-checkpoints", "2", "--run-dir", str(run_dir)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_records(run_dir, 5, process)
    process.kill()
    process.wait(timeout=30)
    meta = read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]  # complete, readable
    assert meta["update"] >= 4
    finished = _run_cli("--resume", str(run_dir), "--no-progress")
    assert finished.returncode == 0, finished.stderr
    assert [r["update"] for r in read_metrics(run_dir)] == list(range(1, 61))


KILLED_WRITER = """
import os, sys, time
import numpy as np
from jaxrl.io import checkpoint
run_dir, marker = sys.argv[1], sys.argv[2]
state = {"w": np.arange(4_000_000, dtype=np.float32)}
checkpoint.save_checkpoint(run_dir, state, {"algorithm": "ppo", "env_steps": 1})
def stall(fd):  # the second write's bytes are on disk but not yet renamed into place: get killed here
    open(marker, "w").close()
    time.sleep(600)
checkpoint.os.fsync = stall
checkpoint.save_checkpoint(run_dir, {"w": state["w"] + 1}, {"algorithm": "ppo", "env_steps": 2})
"""


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    marker = tmp_path / "writing"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "run"), str(marker)])
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    folder = tmp_path / "run" / "checkpoints"
    assert any(p.name.endswith(".tmp") for p in folder.iterdir())  # the torn write is there ...
    latest = latest_checkpoint(tmp_path / "run")  # ... but never listed
    meta, state, _ = read_checkpoint_with_extra(latest)
    assert meta["env_steps"] == 1 and state["w"][-1] == 3_999_999


def test_resume_falls_back_to_the_newest_undamaged_checkpoint(tmp_path):
    config = dataclasses.replace(HOST_PPO, checkpoint_every=2, keep_checkpoints=10)
    train("ppo", config, tmp_path / "whole")
    _interrupted_copy(tmp_path / "whole", tmp_path / "resumed", keep=2)  # checkpoints after updates 2 and 4
    newest = list_checkpoints(tmp_path / "resumed")[-1]
    payload = bytearray(newest.read_bytes())
    payload[len(payload) // 2] ^= 0x01  # a single flipped bit: loads fine as msgpack, fails the checksum
    newest.write_bytes(bytes(payload))
    train("ppo", config, tmp_path / "resumed", resume=True)
    resumed = read_metrics(tmp_path / "resumed")
    # resumed from update 2 (the damaged update-4 file was skipped), and ends like the uninterrupted run
    assert [r["update"] for r in resumed] == list(range(1, HOST_PPO.num_updates + 1))
    assert resumed[:2] == read_metrics(tmp_path / "whole")[:2]


def test_a_replay_saved_as_a_transition_buffer_is_refused_in_one_line_and_still_evaluates(tmp_path):
    """Runs saved before the time-ordered replay (their replay: ``data`` of transitions, ``position``, ``size``)."""
    config = SACConfig(env="Pendulum-v1", total_timesteps=300, learning_starts=200, log_every=100, batch_size=32,
                       hidden_sizes=(16, 16), progress=False, checkpoint_every=1)
    train("sac", config, tmp_path / "run")
    path = list_checkpoints(tmp_path / "run")[0]
    meta, state, _ = read_checkpoint_with_extra(path)
    flat = {"data": {"obs": np.zeros((10, 3), np.float32), "next_obs": np.zeros((10, 3), np.float32)},
            "position": np.int32(0), "size": np.int32(0)}
    path.unlink()
    for later in list_checkpoints(tmp_path / "run"):
        later.unlink()
    save_checkpoint(tmp_path / "run", state, meta, extra={"replay": flat})
    with pytest.raises(CheckpointError, match=r"holds its replay as a buffer of transitions, which this jaxrl no "
                                              r"longer resumes .*`jaxrl eval` still reads the run"):
        train("sac", config, tmp_path / "run", resume=True)
    run = load(tmp_path / "run")  # the agent's state loads as before: the run evaluates
    assert np.isfinite(evaluate("sac", run.state, episodes=1)["mean_return"])


HOST_SHORT = ("--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "32", "--update-epochs", "1")
DEVICE_SHORT = ("--env", "phys2d/CartPole-v1", "--num-envs", "4", "--num-steps", "32", "--update-epochs", "1",
                "--num-seeds", "2")


@pytest.mark.parametrize("algorithm, run_args, how", [
    ("ppo", (*HOST_SHORT, "--eval-every", "16"), "finished"),
    ("ppo", (*DEVICE_SHORT, "--eval-every", "16"), "finished"),
    ("ppo", (*HOST_SHORT, "--target-return", "25"), "stopped: target return 25.0 reached"),
    ("ppo", (*DEVICE_SHORT, "--target-return", "25", "--checkpoint-every", "4"), "stopped: target return 25.0"),
    ("sac", ("--env", "Pendulum-v1", "--learning-starts", "100", "--hidden-sizes", "8", "--target-return=-1e4"),
     "stopped: target return -10000.0 reached"),
])
def test_resuming_an_ended_run_reports_how_it_ended_and_changes_nothing(tmp_path, capsys, monkeypatch, algorithm,
                                                                        run_args, how):
    """A finished run's resume printed nulls for the returns; the device loop's also said no episode
    had finished and overwrote results.json with null returns. A run stopped by a stopping rule
    trained on (an update, or to the end if the return fell back) and stays stopped now. An ended
    device run compiles nothing and reports its saved results (it compiled, and reported 0 steps/s);
    one cut off before its results.json gets it."""
    import json

    from jaxrl.cli import main

    run_dir = tmp_path / "run"
    assert main(["train", algorithm, *run_args, "--total-timesteps", "4096", "--no-progress", "--run-dir",
                 str(run_dir), "--eval-episodes", "1"]) == 0
    finished = json.loads(capsys.readouterr().out.splitlines()[-1])
    saved = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    last_saved = read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]
    monkeypatch.setattr("jaxrl.loops.device_run._compile", lambda *args: pytest.fail("an ended run compiled"))
    assert main(["train", algorithm, "--resume", str(run_dir), "--no-progress"]) == 0
    monkeypatch.undo()
    out, err = capsys.readouterr()
    again = json.loads(out.splitlines()[-1])
    assert err.startswith(f"nothing to train: the run in {run_dir} had already {how}")
    assert "no episode finished" not in err
    assert again == finished  # the device loop's aggregate_sps too: the run's, from its results.json
    assert (again["last_evaluation"] is not None) == ("--eval-every" in run_args)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()} == saved
    assert read_checkpoint_with_extra(latest_checkpoint(run_dir))[0]["env_steps"] == last_saved["env_steps"]
    if "--num-seeds" in run_args:
        (run_dir / "results.json").unlink()
        assert main(["train", algorithm, "--resume", str(run_dir), "--no-progress"]) == 0
        written = json.loads((run_dir / "results.json").read_text())
        assert written["final_episodic_return"] == finished["final_episodic_return"]
