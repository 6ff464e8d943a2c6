"""Sharded and multi-process runs equal one-device runs with the same global batch.

Each case runs in fresh processes: the number of CPU devices
(``--xla_force_host_platform_device_count``) and ``jax.distributed`` are fixed when JAX starts.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 300


def _run(out: Path, cpu_devices: int, *flags: str) -> subprocess.Popen:
    # the suite's own XLA flags (tests/compile_options.py) stay: these are tiny, compile-bound programs
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={cpu_devices}".strip()
    env = {**os.environ, "XLA_FLAGS": xla_flags, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, str(WORKER), "--out", str(out), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, output


def _assert_same_params(a: Path, b: Path) -> None:
    left, right = np.load(a), np.load(b)
    assert sorted(left.files) == sorted(right.files)
    for name in left.files:
        np.testing.assert_allclose(left[name], right[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("loop", ["device", "device-pieces", "device-pieces-sac", "host"])
def test_four_devices_match_one_device(tmp_path, loop):
    one, four = _run(tmp_path / "one.npz", 4, "--loop", loop), _run(tmp_path / "four.npz", 4, "--loop", loop,
                                                                     "--devices", "4")
    _finish(one)
    _finish(four)
    _assert_same_params(tmp_path / "one.npz", tmp_path / "four.npz")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one_process(tmp_path):
    coordinator = f"127.0.0.1:{_free_port()}"
    workers = [_run(tmp_path / f"process{i}.npz", 1, "--coordinator", coordinator, "--num-processes", "2",
                    "--process-id", str(i)) for i in range(2)]
    single = _run(tmp_path / "single.npz", 2, "--devices", "2")
    for process in (*workers, single):
        _finish(process)
    assert not (tmp_path / "process1.npz").exists()  # only process 0 writes
    _assert_same_params(tmp_path / "process0.npz", tmp_path / "single.npz")


def _cli_processes(run_dir: Path, *flags: str) -> list[subprocess.Popen]:
    """Two processes of one CLI run (``jaxrl train ppo ... flags``), one CPU device each."""
    coordinator, env = f"127.0.0.1:{_free_port()}", {**os.environ, "JAX_PLATFORMS": "cpu"}
    return [subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "train", "ppo", *flags, "--run-dir", str(run_dir),
                              "--coordinator", coordinator, "--num-processes", "2", "--process-id", str(index)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(2)]


def test_a_stop_signal_to_one_process_stops_every_process_after_the_same_piece(tmp_path):
    """SLURM signals every process of a job, not at the same instant; here only process 1 gets SIGTERM.
    All processes agree after each piece whether any was signalled, so both save one checkpoint (process
    0 writes it, gathered from both) and exit 143, where process 1 stopping alone would leave process 0
    waiting in the next piece's collectives. Both then resume the run to its end."""
    from jaxrl.io.checkpoint import latest_checkpoint, read_checkpoint
    from jaxrl.io.metrics import read_metrics

    run_dir, updates = tmp_path / "run", 40
    workers = _cli_processes(run_dir, "--env", "phys2d/CartPole-v1", "--loop", "device", "--num-envs", "8",
                             "--num-steps", "16", "--update-epochs", "1", "--hidden-sizes", "8", "--total-timesteps",
                             str(8 * 16 * updates), "--checkpoint-every", "1", "--no-progress")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not ((run_dir / "metrics.jsonl").is_file() and len(read_metrics(run_dir)) >= 3):
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), workers[0].communicate()
            time.sleep(0.05)
        workers[1].send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=120)[1] for worker in workers]
        assert [worker.returncode for worker in workers] == [143, 143], outputs
        assert "stopped by SIGTERM" in outputs[0] and "--resume" in outputs[0]
        assert "jaxrl: SIGTERM: stopping after the current piece of the program" in outputs[1]
        meta, _ = read_checkpoint(latest_checkpoint(run_dir))
        assert meta["update"] == read_metrics(run_dir)[-1]["update"] < updates
        workers = _cli_processes(run_dir, "--resume", str(run_dir), "--no-progress")
        outputs = [worker.communicate(timeout=TIMEOUT_S) for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs
        # process 0 reports the run (stdout's JSON, stderr's summary), process 1 says nothing of it
        assert '"env_steps_per_seed"' in outputs[0][0] and "trained 1 seed(s)" in outputs[0][1]
        assert '"env_steps_per_seed"' not in outputs[1][0] and "trained" not in outputs[1][1], outputs[1]
        assert [record["update"] for record in read_metrics(run_dir)] == list(range(1, updates + 1))
    finally:
        for worker in workers:
            worker.kill()


def test_evaluations_during_a_multi_process_run_are_the_same_as_in_one_process(tmp_path):
    """Multi-process runs refused --eval-every. Now every process gathers the train state at an
    evaluation, plays it on its own device and records the same returns, so the stopping rule agrees;
    process 0 keeps each seed's best agent. The returns equal a one-process run's over the same mesh."""
    import json

    from jaxrl.io.metrics import read_metrics

    flags = ("--env", "phys2d/CartPole-v1", "--loop", "device", "--num-envs", "8", "--num-steps", "16",
             "--update-epochs", "1", "--hidden-sizes", "8", "--total-timesteps", str(8 * 16 * 4), "--eval-every", "2",
             "--eval-episodes", "3", "--no-progress")
    workers = _cli_processes(tmp_path / "two", *flags)
    try:
        outputs = [worker.communicate(timeout=TIMEOUT_S) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    two = [record.get("eval_return_per_seed") for record in read_metrics(tmp_path / "two")]
    assert two[1] is not None and two[3] is not None and two[0] is None  # after updates 2 and 4
    assert json.loads(outputs[0][0].splitlines()[-1])["last_evaluation"] is not None
    assert (tmp_path / "two" / "seed_1" / "best" / "config.json").is_file()
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()}
    one = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "ppo", *flags, "--devices", "2", "--run-dir",
                          str(tmp_path / "one")], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert one.returncode == 0, one.stderr
    one_returns = [record.get("eval_return_per_seed") for record in read_metrics(tmp_path / "one")]
    np.testing.assert_allclose(np.array(two[1] + two[3]), np.array(one_returns[1] + one_returns[3]), rtol=1e-4)

