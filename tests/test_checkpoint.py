import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.io.checkpoint import CheckpointError, latest_checkpoint, read_checkpoint, restore_state, save_checkpoint


def test_a_half_written_file_is_never_the_latest(tmp_path):
    state = {"w": jnp.arange(3.0)}
    save_checkpoint(tmp_path, state, {"env_steps": 100})
    # What a process killed mid-write leaves behind: a temporary file with a newer step.
    (tmp_path / "checkpoints" / ".ckpt_000000000200.msgpack.123.tmp").write_bytes(b"\x00partial")
    assert latest_checkpoint(tmp_path).name == "ckpt_000000000100.msgpack"
    meta, state_dict = read_checkpoint(latest_checkpoint(tmp_path))
    assert meta["env_steps"] == 100
    np.testing.assert_array_equal(restore_state(state, state_dict, tmp_path)["w"], [0.0, 1.0, 2.0])


def test_keeps_only_the_newest_checkpoints(tmp_path):
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, {"w": jnp.ones(2) * step}, {"env_steps": step}, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "ckpt_000000000003.msgpack", "ckpt_000000000004.msgpack"]


def test_shape_mismatch_names_the_leaf(tmp_path):
    path = save_checkpoint(tmp_path, {"w": jnp.ones(2)}, {"env_steps": 1})
    _, state_dict = read_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"\['w'\] has shape \(2,\), this config expects \(3,\)"):
        restore_state({"w": jnp.ones(3)}, state_dict, path)
