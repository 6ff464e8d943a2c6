"""Sharded and multi-process runs equal one-device runs with the same global batch.

Each case runs in fresh processes: the number of CPU devices
(``--xla_force_host_platform_device_count``) and ``jax.distributed`` are fixed when JAX starts.
"""

import os
import socket
import subprocess
import sys
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
