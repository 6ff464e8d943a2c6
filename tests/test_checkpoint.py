import dataclasses
import hashlib
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from jaxrl.io.checkpoint import (
    BLOCK_BYTES,
    MAGIC_V1,
    MAGIC_V2,
    CheckpointError,
    latest_checkpoint,
    read_checkpoint,
    read_checkpoint_with_extra,
    restore_state,
    save_checkpoint,
)


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


@pytest.mark.parametrize("norm_reward", [False, True])
def test_a_ppo_checkpoint_from_before_reward_normalisation_and_clipping_still_loads(tmp_path, norm_reward):
    import jax

    from jaxrl.agents import ppo
    from jaxrl.types import EnvSpec

    spec = EnvSpec(observation_shape=(3,), discrete=True, action_dim=2)
    config = ppo.PPOConfig(hidden_sizes=(8,), num_envs=4)
    trained = ppo.init(jax.random.PRNGKey(1), spec, config)
    older = {"state": {k: v for k, v in serialization.to_state_dict(trained).items() if k != "reward_norm"}}
    older["state"]["hparams"] = {k: v for k, v in older["state"]["hparams"].items() if k != "reward_clip"}
    path = save_checkpoint(tmp_path, older, {"env_steps": 1})
    template = {"state": ppo.init(jax.random.PRNGKey(2), spec, dataclasses.replace(config, norm_reward=norm_reward))}
    restored = restore_state(template, read_checkpoint(path)[1], path)["state"]
    np.testing.assert_array_equal(restored.params["policy_head"]["kernel"], trained.params["policy_head"]["kernel"])
    assert float(restored.hparams["reward_clip"]) == np.inf  # older runs did not clip
    if norm_reward:  # a run resumed with it turned on starts its statistics afresh
        assert restored.reward_norm.returns.shape == (4,) and float(restored.reward_norm.return_stats.count) < 1e-3
    else:
        assert restored.reward_norm is None


def test_a_checkpoint_from_before_the_off_policy_observation_statistics_still_loads(tmp_path):
    import jax

    from jaxrl.agents import td3
    from jaxrl.types import EnvSpec

    spec = EnvSpec(observation_shape=(3,), discrete=False, action_dim=1, action_low=(-1.0,), action_high=(1.0,))
    trained = td3.init(jax.random.PRNGKey(1), spec, td3.TD3Config(hidden_sizes=(8,)))
    older = {"state": {k: v for k, v in serialization.to_state_dict(trained).items() if k != "obs_stats"}}
    path = save_checkpoint(tmp_path, older, {"env_steps": 1})
    _, state_dict = read_checkpoint(path)
    template = {"state": td3.init(jax.random.PRNGKey(2), spec, td3.TD3Config(hidden_sizes=(8,)))}
    restored = restore_state(template, state_dict, path)["state"]
    np.testing.assert_array_equal(restored.actor_params["Dense_0"]["kernel"], trained.actor_params["Dense_0"]["kernel"])
    assert float(restored.obs_stats.count) == pytest.approx(1e-4)  # the fresh statistics: nothing normalised yet
    # any other missing field is still refused, in one line
    broken = {"state": {k: v for k, v in older["state"].items() if k != "step"}}
    with pytest.raises(CheckpointError, match="missing"):
        restore_state(template, serialization.to_state_dict(broken), path)


def test_every_dtype_and_nesting_round_trips_and_one_flipped_bit_is_refused(tmp_path):
    state = {"params": {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.zeros(0)}, "step": jnp.asarray(7, jnp.int32),
             "done": jnp.asarray([True, False]), "half": jnp.ones(3, jnp.bfloat16), "key": jnp.arange(2, dtype=jnp.uint32)}
    path = save_checkpoint(tmp_path, state, {"env_steps": 5}, extra={"replay": {"obs": jnp.ones((4, 2))}})
    meta, state_dict, extra = read_checkpoint_with_extra(path)
    restored = restore_state(state, state_dict, path)
    assert meta == {"env_steps": 5}
    for name in ("step", "done", "half", "key"):
        assert restored[name].dtype == state[name].dtype
        np.testing.assert_array_equal(np.asarray(restored[name], np.float32), np.asarray(state[name], np.float32))
    np.testing.assert_array_equal(restored["params"]["w"], state["params"]["w"])
    np.testing.assert_array_equal(extra["replay"]["obs"], np.ones((4, 2)))
    data = bytearray(path.read_bytes())
    data[data.rfind(np.ones((4, 2), np.float32).tobytes()) + 5] ^= 0x01  # inside the last array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match their SHA-256 checksum"):
        read_checkpoint(path)


def _half_filled_replay() -> dict[str, np.ndarray]:
    """Leaves as an unfilled replay buffer holds them: rows past the filled ones are zero. ``seeded``
    has a leading seed axis (the device loop's), so its zero rows lie in several runs; ``signs`` holds
    -0.0, which compares equal to 0.0 but is not its bytes."""
    rng = np.random.default_rng(0)
    frames = np.zeros((400, 84, 84, 4), np.uint8)  # 11 MB, 40% filled
    frames[:160] = rng.integers(0, 256, (160, 84, 84, 4), np.uint8)
    seeded = np.zeros((3, 100_000, 2), np.float32)
    seeded[:, :30_000] = rng.normal(size=(3, 30_000, 2))
    signs = np.zeros(200_000, np.float32)
    signs[150_000:] = -0.0
    return {"frames": frames, "seeded": seeded, "signs": signs, "done": np.arange(300_000) % 7 == 0,
            "half": np.concatenate([np.ones(10, jnp.bfloat16), np.zeros(300_000, jnp.bfloat16)])}


def test_zero_blocks_are_left_out_of_the_file_and_come_back_bit_for_bit(tmp_path):
    replay = _half_filled_replay()
    path = save_checkpoint(tmp_path, {"w": np.ones(3)}, {"env_steps": 1}, extra={"replay": replay})
    dense = sum(leaf.nbytes for leaf in replay.values())
    assert path.stat().st_size < 0.5 * dense  # 40% of frames, 30% of each seed's rows, a block of the rest
    _, state_dict, extra = read_checkpoint_with_extra(path)
    for name, leaf in replay.items():
        assert extra["replay"][name].dtype == leaf.dtype and extra["replay"][name].shape == leaf.shape, name
        np.testing.assert_array_equal(extra["replay"][name].view(np.uint8), leaf.view(np.uint8), err_msg=name)
    assert np.signbit(extra["replay"]["signs"][150_000:]).all()
    np.testing.assert_array_equal(state_dict["w"], np.ones(3))


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_file_with_blocks_left_out_still_refuses_damage(tmp_path, damage):
    path = save_checkpoint(tmp_path, {"w": np.ones(3)}, {"env_steps": 1}, extra={"replay": _half_filled_replay()})
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        message = "do not match their SHA-256 checksum"
    else:
        data = data[: len(data) - BLOCK_BYTES]
        message = "corrupt or truncated"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)


def test_files_of_the_three_earlier_formats_still_load(tmp_path):
    # format 2: header, skeleton, every array's bytes, SHA-256 (no block list)
    header = serialization.msgpack_serialize({"meta": {"env_steps": 1}, "arrays": [["float64", [3]]]})
    skeleton = serialization.msgpack_serialize({"state": {"w": {"__array__": 0}}})
    content = b"".join([len(header).to_bytes(8, "little"), header, len(skeleton).to_bytes(8, "little"), skeleton,
                        np.arange(3.0).tobytes()])
    (tmp_path / "v2.msgpack").write_bytes(MAGIC_V2 + content + hashlib.sha256(content).digest())
    body = {"state": {"w": np.arange(3.0)}}
    body_bytes = serialization.msgpack_serialize(body)
    header = serialization.msgpack_serialize({"meta": {"env_steps": 1}, "sha256": hashlib.sha256(body_bytes).hexdigest()})
    (tmp_path / "v1.msgpack").write_bytes(MAGIC_V1 + len(header).to_bytes(8, "little") + header + body_bytes)
    (tmp_path / "v0.msgpack").write_bytes(serialization.msgpack_serialize({"meta": {"env_steps": 1}, **body}))
    for name in ("v2.msgpack", "v1.msgpack", "v0.msgpack"):
        meta, state_dict = read_checkpoint(tmp_path / name)
        assert meta == {"env_steps": 1}
        np.testing.assert_array_equal(state_dict["w"], [0.0, 1.0, 2.0])


SAVE_PEAK = """
import sys, jax.numpy as jnp
from jaxrl.io.checkpoint import save_checkpoint
def hwm_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
buffer = {name: jnp.ones((4_000_000,), jnp.float32) for name in "abcd"}  # 4 leaves x 16 MB
before = hwm_mb()
save_checkpoint(sys.argv[1], {"w": jnp.ones(3)}, {"env_steps": 1}, extra={"replay": buffer})
print(hwm_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc")
def test_saving_a_large_buffer_holds_one_leaf_at_a_time(tmp_path):
    """A 64 MB buffer: the old whole-body msgpack raised the peak by >= 128 MB (host copy + bytes)."""
    out = subprocess.run([sys.executable, "-c", SAVE_PEAK, str(tmp_path)], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip().splitlines()[-1]) < 40  # one 16 MB leaf's host copy, plus slack
