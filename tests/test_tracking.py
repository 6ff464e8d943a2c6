"""--track: the TensorBoard scalars also go to Weights & Biases (offline here, no network)."""

import builtins
import time

import pytest

from jaxrl.cli import main


def test_track_logs_every_record_offline_and_a_resume_continues_the_same_wandb_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    args = ["train", "ppo", "--env", "CartPole-v1", "--num-envs", "4", "--num-steps", "64", "--run-dir", str(run_dir),
            "--no-progress", "--checkpoint-every", "2"]
    assert main([*args, "--total-timesteps", "1024", "--track", "--wandb-mode", "offline",
                 "--wandb-project", "jaxrl-tests"]) == 0
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    (offline,) = (run_dir / "wandb").glob(f"offline-run-*-{run_id}")
    logged = _wandb_file_once_written(offline / f"run-{run_id}.wandb")
    for tag in (b"charts/episodic_return", b"charts/SPS", b"losses/policy_loss", b"global_step", b"jaxrl-tests"):
        assert tag in logged, tag
    assert main(["train", "ppo", "--resume", str(run_dir), "--no-progress"]) == 0  # finished: nothing to add
    assert (run_dir / "wandb_run_id").read_text().strip() == run_id


def test_track_uploads_the_captured_videos_as_they_appear(tmp_path, monkeypatch):
    """CleanRL's --track --capture-video uploads its videos to the W&B run; jaxrl's kept them on disk only."""
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    # 16 steps of one env: episode 0 (or 1) is still running at the end, written as the envs close
    assert main(["train", "ppo", "--env", "CartPole-v1", "--num-envs", "1", "--num-steps", "8", "--total-timesteps",
                 "16", "--update-epochs", "1", "--capture-video", "--track", "--wandb-mode", "offline",
                 "--wandb-project", "jaxrl-tests", "--no-progress", "--run-dir", str(run_dir)]) == 0
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    (offline,) = (run_dir / "wandb").glob(f"offline-run-*-{run_id}")
    _wandb_file_once_written(offline / f"run-{run_id}.wandb")
    deadline = time.monotonic() + 60
    while not list((offline / "files" / "media" / "videos").glob("videos_*.gif")) and time.monotonic() < deadline:
        time.sleep(0.5)
    uploaded = list((offline / "files" / "media" / "videos").glob("videos_*.gif"))
    deadline = time.monotonic() + 60
    while len(uploaded) < len(list((run_dir / "videos").iterdir())) and time.monotonic() < deadline:
        time.sleep(0.5)
        uploaded = list((offline / "files" / "media" / "videos").glob("videos_*.gif"))
    # every video, the one written as the envs closed (after the last record) too
    assert len(uploaded) == len(list((run_dir / "videos").iterdir())) >= 1, uploaded


def _wandb_file_once_written(path, timeout_s=60.0):
    """The offline run file; wandb's service process may still be writing it when finish() returns
    on a loaded machine (seen in CI), so wait for the first logged record."""
    deadline = time.monotonic() + timeout_s
    while b"global_step" not in path.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.5)
    return path.read_bytes()


def test_track_without_wandb_installed_is_one_line(tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def without_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_wandb)
    assert main(["train", "ppo", "--env", "CartPole-v1", "--total-timesteps", "256", "--num-envs", "4",
                 "--num-steps", "32", "--run-dir", str(tmp_path / "run"), "--track", "--no-progress"]) == 1
    assert capsys.readouterr().err.strip() == (
        "jaxrl: error: --track logs to Weights & Biases, which is not installed: pip install 'jaxrl[wandb]'")
    assert not (tmp_path / "run").exists()  # checked before anything was created


def test_a_bad_wandb_mode_is_named():
    import jaxrl

    with pytest.raises(ValueError, match=r"^wandb_mode must be one of \[None, 'disabled', 'offline', 'online'\], got 'sometimes'$"):
        jaxrl.config_for("ppo", "CartPole-v1", wandb_mode="sometimes").validate()
