"""A run's files: CleanRL's TensorBoard layout, and a write that fails names its file in one line."""

import os
import struct
import subprocess
import sys

import pytest

from jaxrl.io.metrics import MetricsWriter, tensorboard_tag


def read_scalars(folder):
    """{tag: [(step, value), ...]} from the TFRecord event files in ``folder`` (no TensorBoard needed)."""
    from tensorboardX.proto.event_pb2 import Event

    scalars = {}
    for path in folder.iterdir():
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12: offset + 12 + length])  # 8 length + 4 crc bytes
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_follows_cleanrls_layout(tmp_path):
    with MetricsWriter(tmp_path) as writer:
        writer.write({"update": 1, "env_steps": 512, "time_s": 1.5, "sps": 340.0, "episodic_return": 21.5,
                      "episodic_length": 21.5, "policy_loss": -0.01, "approx_kl": 0.002, "learning_rate": 3e-4,
                      "param_norm": 12.0, "epochs_run": 4, "episodes": 3, "q_values": float("nan")})
    scalars = read_scalars(tmp_path / "tensorboard")
    assert scalars == {"charts/SPS": [(512, 340.0)], "charts/episodic_return": [(512, 21.5)],
                       "charts/episodic_length": [(512, 21.5)], "losses/policy_loss": [(512, pytest.approx(-0.01))],
                       "losses/approx_kl": [(512, pytest.approx(0.002))],
                       "charts/learning_rate": [(512, pytest.approx(3e-4))], "charts/param_norm": [(512, 12.0)],
                       "charts/epochs_run": [(512, 4.0)], "charts/episodes": [(512, 3.0)]}
    assert tensorboard_tag("update") is None and tensorboard_tag("critic_loss") == "losses/critic_loss"


def read_texts(folder):
    """[(tag, step, text), ...] of the TensorBoard text summaries in ``folder``'s event files."""
    from tensorboardX.proto.event_pb2 import Event

    texts = []
    for path in folder.iterdir():
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12: offset + 12 + length])
            offset += 12 + length + 4
            texts += [(value.tag, event.step, value.tensor.string_val[0].decode()) for value in event.summary.value
                      if value.metadata.plugin_data.plugin_name == "text"]
    return texts


def test_a_fresh_run_writes_its_hyperparameters_under_tensorboards_text_tab_once(tmp_path):
    """CleanRL's runs show a hyperparameter table in TensorBoard; jaxrl's had only config.json."""
    from jaxrl.cli import main

    run_dir = tmp_path / "run"
    argv = ["train", "ppo", "--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "32", "--total-timesteps", "128",
            "--update-epochs", "1", "--learning-rate", "0.001", "--no-progress"]
    assert main([*argv, "--run-dir", str(run_dir)]) == 0
    [(tag, step, table)] = read_texts(run_dir / "tensorboard")
    assert (tag, step) == ("hyperparameters/text_summary", 0)
    rows = table.splitlines()
    assert rows[:3] == ["|param|value|", "|-|-|", '|algorithm|"ppo"|']
    assert "|learning_rate|0.001|" in rows and '|env|"CartPole-v1"|' in rows and "|target_kl|null|" in rows
    assert main(["train", "ppo", "--resume", str(run_dir), "--total-timesteps", "256", "--no-progress"]) == 0
    assert len(read_texts(run_dir / "tensorboard")) == 1  # a resumed run adds none


def test_a_writer_opened_in_the_same_second_as_another_keeps_the_others_events(tmp_path, monkeypatch):
    """tensorboardX names an event file by the second and the host and truncates one of that name: a resume
    within a second of the run's start (fast tests, scripts) wiped the run's TensorBoard events."""
    monkeypatch.setattr("tensorboardX.event_file_writer.time.time", lambda: 1_700_000_000.25)  # one second for both
    for env_steps in (8, 16):
        with MetricsWriter(tmp_path) as writer:
            writer.write({"update": env_steps // 8, "env_steps": env_steps, "episodic_return": float(env_steps)})
    scalars = read_scalars(tmp_path / "tensorboard")
    assert list(scalars) == ["charts/episodic_return"] and sorted(scalars["charts/episodic_return"]) == [(8, 8.0),
                                                                                                          (16, 16.0)]


def test_a_run_of_several_seeds_charts_each_seeds_return_beside_the_mean(tmp_path):
    """TensorBoard had only the mean over a device run's seeds."""
    with MetricsWriter(tmp_path / "three", seeds=[4, 5, 6]) as writer:
        writer.write({"update": 1, "env_steps": 8, "episodic_return": 2.0, "episodic_return_per_seed": [1.0, None, 3.0],
                      "eval_return": 5.0, "eval_return_per_seed": [5.0, 5.0, float("nan")]})
    assert read_scalars(tmp_path / "three" / "tensorboard") == {
        "charts/episodic_return": [(8, 2.0)], "charts/episodic_return/seed_4": [(8, 1.0)],
        "charts/episodic_return/seed_6": [(8, 3.0)], "charts/eval_return": [(8, 5.0)],
        "charts/eval_return/seed_4": [(8, 5.0)], "charts/eval_return/seed_5": [(8, 5.0)]}
    with MetricsWriter(tmp_path / "one", seeds=[4]) as writer:  # one seed: its value is the mean's
        writer.write({"update": 1, "env_steps": 8, "episodic_return": 2.0, "episodic_return_per_seed": [2.0]})
    assert read_scalars(tmp_path / "one" / "tensorboard") == {"charts/episodic_return": [(8, 2.0)]}


def test_tensorboard_sees_the_first_record_live_and_a_record_is_one_event(tmp_path):
    with MetricsWriter(tmp_path) as writer:
        writer.write({"update": 1, "env_steps": 8, "episodic_return": 1.0, "policy_loss": 0.5})
        assert read_scalars(tmp_path / "tensorboard") == {"charts/episodic_return": [(8, 1.0)],
                                                          "losses/policy_loss": [(8, 0.5)]}  # flushed, not closed
        for update in range(2, 6):  # within the flush interval: written at close
            writer.write({"update": update, "env_steps": 8 * update, "episodic_return": float(update)})
    scalars = read_scalars(tmp_path / "tensorboard")
    assert scalars["charts/episodic_return"] == [(8 * u, float(u)) for u in range(1, 6)]
    (events_file,) = (tmp_path / "tensorboard").iterdir()
    data, offset, events = events_file.read_bytes(), 0, 0
    while offset < len(data):
        offset += 12 + struct.unpack_from("<Q", data, offset)[0] + 4
        events += 1
    assert events == 1 + 5  # the file-version event, then one per record


# The child limits its own file size before running the CLI (no preexec_fn: forking a
# multithreaded JAX process and running Python in the child can deadlock).
LIMITED_CLI = """
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG, as on a full disk
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["jaxrl", *sys.argv[2:]]
runpy.run_module("jaxrl.cli", run_name="__main__")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE as a full disk is Linux's")
def test_a_failed_write_names_the_file_in_one_line_and_leaves_no_partial_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    # the compilation cache is on, as for users: its larger entries fail first, which must not add
    # JAX's warnings to the one line
    cache = {**os.environ, "JAXRL_COMPILATION_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_CLI, "40000", "train", "ppo", "--env", "CartPole-v1", "--total-timesteps", "2048",
         "--num-envs", "4", "--num-steps", "64", "--hidden-sizes", "128", "128", "--checkpoint-every", "1",
         "--run-dir", str(run_dir), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=cache)
    assert result.returncode == 1
    # JAX left a truncated entry for each failed write (every later run would fail to read it); the
    # run's entries are dropped instead, to be compiled again
    assert list((tmp_path / "cache").iterdir()) == []
    checkpoint = run_dir / "checkpoints" / "ckpt_000000000256.msgpack"
    assert result.stderr.strip().splitlines() == [f"jaxrl: error: could not write {checkpoint}: File too large"]
    assert list((run_dir / "checkpoints").iterdir()) == []  # the partial temporary file was removed
