"""Single-file checkpoints: flax msgpack, written atomically.

Why not orbax: a jaxrl checkpoint is a few MB of parameters and optimizer state
that must survive SIGKILL at any moment. One msgpack file written to a temporary
name, fsynced, then ``os.replace``d into place gives exactly that with no background
threads and no coupling to orbax's fast-moving API across JAX versions.

A checkpoint file (``MAGIC``, format 3) is, in order: an 8-byte length and a msgpack header
``{"meta": {...}, "arrays": [[dtype, shape], ...]}``; an 8-byte length and a msgpack skeleton of
``{"state", "extra"}`` whose arrays are ``{"__array__": index}`` placeholders; each array's bytes
except its all-zero blocks of ``BLOCK_BYTES``; a msgpack list of which blocks each array wrote
(a bit per block, None: all) and its 8-byte length; and the SHA-256 of everything between
``MAGIC`` and it. Leaving out zero blocks is what keeps a replay buffer's checkpoint the size of
its filled slots: a DQN run on Atari with CleanRL's 1M replay holds 7 GB from its first step. Arrays are
streamed to the file one at a time, so saving a 1M-item replay buffer holds at most one leaf's
host copy and no serialized copy of the whole (msgpack of the whole body had doubled the run's
peak memory). ``meta`` records the algorithm, env steps, update count and the loop's PRNG key; the
checksum is verified on every read, so flipped bytes are refused instead of loaded.
The newest checkpoint that reads back whole is the one loaded (:func:`latest_good_checkpoint`).
Format-2 files (``MAGIC_V2``: every byte of every array, no block list), format-1 files
(``MAGIC_V1``: header with the body's SHA-256, then a msgpack body) still load, and files from
before checksums (``{"meta", "state", "extra"}``) load unchecked.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from jaxrl.io.files import writing

CHECKPOINT_DIR = "checkpoints"
MAGIC = b"JAXRLCK3"
MAGIC_V2 = b"JAXRLCK2"
MAGIC_V1 = b"JAXRLCK1"
BLOCK_BYTES = 1 << 16  # an array's all-zero blocks of 64 KiB are not written (an unfilled replay buffer's slots)
ARRAY_TAG = "__array__"
DIGEST_BYTES = 32  # SHA-256
_NAME = re.compile(r"^ckpt_(\d{12})\.msgpack$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match what is being loaded."""


def checkpoint_path(run_dir: Path, env_steps: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"ckpt_{env_steps:012d}.msgpack"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary files are never listed)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def remove_partial_writes(run_dir: Path) -> list[Path]:
    """Delete temporary files left by a writer that was killed mid-write; returns what was removed."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    partial = [p for p in folder.iterdir() if p.name.startswith(".ckpt_") and p.name.endswith(".tmp")]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


def _atomic_write(path: Path, parts: Iterable[bytes | memoryview]) -> None:
    """Write ``parts`` (produced one at a time) to a temporary file, then rename it to ``path``:
    a crash or a full disk leaves the older checkpoints as they were, and the partial file is removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                for part in parts:
                    handle.write(part)
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _children(node: Any) -> tuple[list[tuple[str, Any]], Any]:
    """``node``'s direct children by key name (``qpos``, ``[0]``), and its one-level treedef."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda child: child is not node)
    return [(jax.tree_util.keystr(path).lstrip("."), child) for path, child in flat], treedef


def _children_state_dict(node: Any) -> dict[str, Any]:
    return {key: serialization.to_state_dict(child) for key, child in _children(node)[0]}


def _from_children_state_dict(target: Any, state: dict[str, Any]) -> Any:
    children, treedef = _children(target)
    return jax.tree_util.tree_unflatten(
        treedef, [serialization.from_state_dict(child, state[key]) for key, child in children])


_CHECKED_NODE_TYPES: set[type] = set()  # node types already asked of flax (it answers by converting a whole subtree)


def _teach_serialization(tree: Any) -> None:
    """Register with flax's serialization every pytree node type in ``tree`` that it does not know
    (an env suite's state classes: brax's ``State``, MJX's ``Data``), saved by their children, so a
    device-loop checkpoint holds any JAX env's state."""
    if isinstance(tree, (np.ndarray, jax.Array, np.generic, jax.ShapeDtypeStruct)) or tree is None:
        return
    children, treedef = _children(tree)
    if treedef.num_leaves == 0 or (len(children) == 1 and children[0][1] is tree):
        return  # a leaf of some other kind (a Python scalar)
    if type(tree) not in _CHECKED_NODE_TYPES:
        _CHECKED_NODE_TYPES.add(type(tree))
        if serialization.to_state_dict(tree) is tree:  # flax returns unknown types unchanged
            serialization.register_serialization_state(type(tree), _children_state_dict, _from_children_state_dict,
                                                       override=True)
    for _, child in children:
        _teach_serialization(child)


def tree_state_dict(tree: Any) -> dict[str, Any]:
    """flax's state dict of any pytree (see :func:`_teach_serialization`)."""
    _teach_serialization(tree)
    return serialization.to_state_dict(tree)


def _skeleton(node: Any, arrays: list[Any]) -> Any:
    """``node`` (a state dict) with each array moved to ``arrays`` and replaced by its index."""
    if isinstance(node, dict):
        return {key: _skeleton(value, arrays) for key, value in node.items()}
    if isinstance(node, (np.ndarray, jax.Array, np.generic)):
        arrays.append(node)
        return {ARRAY_TAG: len(arrays) - 1}
    return node


def _filled(node: Any, arrays: list[np.ndarray]) -> Any:
    """The inverse of :func:`_skeleton`."""
    if isinstance(node, dict):
        if set(node) == {ARRAY_TAG}:
            return arrays[node[ARRAY_TAG]]
        return {key: _filled(value, arrays) for key, value in node.items()}
    return node


def _nonzero_blocks(data: np.ndarray) -> np.ndarray | None:
    """Which ``BLOCK_BYTES`` blocks of ``data`` (uint8 ``[n]``, the last block maybe shorter) hold a nonzero
    byte, ``[ceil(n / BLOCK_BYTES)]`` bool; None for data of one block or less."""
    if data.size <= BLOCK_BYTES:
        return None
    whole = data.size // BLOCK_BYTES
    words = data[: whole * BLOCK_BYTES].view(np.uint64).reshape(whole, BLOCK_BYTES // 8)
    tail = data[whole * BLOCK_BYTES:]
    return np.concatenate([words.any(axis=1), [tail.any()] if tail.size else []]).astype(bool)


def _byte_runs(blocks: np.ndarray | None, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` byte ranges of the runs of ``True`` in ``blocks`` (None: all of ``size``)."""
    if blocks is None:
        return [(0, size)]
    edges = np.flatnonzero(np.diff(np.concatenate([[False], blocks, [False]]).astype(np.int8)))
    return [(int(start) * BLOCK_BYTES, min(int(stop) * BLOCK_BYTES, size)) for start, stop in edges.reshape(-1, 2)]


def _file_parts(meta: dict[str, Any], body: dict[str, Any]) -> Iterator[bytes | memoryview]:
    """The bytes of a format-3 file after ``MAGIC``, one array at a time, then their SHA-256."""
    arrays: list[Any] = []
    skeleton = serialization.msgpack_serialize(_skeleton(body, arrays))
    header = serialization.msgpack_serialize(
        {"meta": meta, "arrays": [[str(array.dtype), list(np.shape(array))] for array in arrays]})
    digest = hashlib.sha256()
    written_blocks: list[bytes | None] = []
    for part in _length_prefixed(header, skeleton):
        digest.update(part)
        yield part
    for array in arrays:
        host = np.ascontiguousarray(jax.device_get(array))  # this leaf's host copy only
        data = host.reshape(-1).view(np.uint8)  # bytes of any dtype (bfloat16 has no buffer format)
        blocks = _nonzero_blocks(data)
        written_blocks.append(None if blocks is None else np.packbits(blocks).tobytes())
        for start, stop in _byte_runs(blocks, data.size):
            digest.update(memoryview(data[start:stop]))
            yield memoryview(data[start:stop])
    block_list = serialization.msgpack_serialize(written_blocks)
    for part in (block_list, len(block_list).to_bytes(8, "little")):  # length last: read from the end
        digest.update(part)
        yield part
    yield digest.digest()


def _length_prefixed(*blobs: bytes) -> Iterator[bytes]:
    for blob in blobs:
        yield len(blob).to_bytes(8, "little")
        yield blob


def save_checkpoint(
    run_dir: Path, state: Any, meta: dict[str, Any], keep: int = 3, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``state`` (any pytree), JSON-able ``meta`` and optional ``extra`` pytrees (e.g. a replay
    buffer, needed to resume an off-policy run); keep the newest ``keep`` files."""
    path = checkpoint_path(run_dir, int(meta["env_steps"]))
    body = {"state": tree_state_dict(state)}
    if extra:
        body["extra"] = {name: tree_state_dict(tree) for name, tree in extra.items()}
    _atomic_write(path, [MAGIC, *_file_parts(meta, body)])
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(meta, state_dict)`` of one file; :class:`CheckpointError` if unreadable."""
    meta, state, _ = read_checkpoint_with_extra(path)
    return meta, state


def read_checkpoint_with_extra(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(meta, state_dict, extra)`` of one file (``extra`` is ``{}`` when the file has none)."""
    try:
        raw = memoryview(Path(path).read_bytes())
        if raw[: len(MAGIC)] in (MAGIC, MAGIC_V2):
            payload = _read_format_2_or_3(path, raw)
        elif raw[: len(MAGIC_V1)] == MAGIC_V1:
            header_end = len(MAGIC) + 8 + int.from_bytes(raw[len(MAGIC): len(MAGIC) + 8], "little")
            payload = serialization.msgpack_restore(bytes(raw[len(MAGIC) + 8: header_end]))
            body = raw[header_end:]
            if not isinstance(payload, dict) or hashlib.sha256(body).hexdigest() != payload.get("sha256"):
                raise CheckpointError(f"checkpoint {path} is damaged: its contents do not match their SHA-256 "
                                      "checksum")
            payload.update(serialization.msgpack_restore(bytes(body)))
        else:  # written before checksums: one msgpack of {"meta", "state", "extra"}
            payload = serialization.msgpack_restore(bytes(raw))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except CheckpointError:
        raise
    except Exception as err:  # msgpack raises several unrelated types on corrupt input
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or "meta" not in payload or "state" not in payload:
        raise CheckpointError(f"checkpoint {path} is not a jaxrl checkpoint (no meta/state)")
    return payload["meta"], payload["state"], payload.get("extra") or {}


def _read_format_2_or_3(path: Path, raw: memoryview) -> dict[str, Any]:
    """``{"meta", "state", "extra"}`` of a format-2 or -3 file; arrays written whole are read-only
    views of ``raw``, the others zeros with their written blocks copied in."""
    content = raw[len(MAGIC): len(raw) - DIGEST_BYTES]
    offset, blobs = 0, []
    for _ in range(2):  # header, skeleton (a damaged length fails here or in the size check)
        length = int.from_bytes(content[offset: offset + 8], "little")
        blobs.append(serialization.msgpack_restore(bytes(content[offset + 8: offset + 8 + length])))
        offset += 8 + length
    header, skeleton = blobs
    layout = [(jnp.dtype(dtype), tuple(shape)) for dtype, shape in header["arrays"]]
    end = len(content)
    block_lists: list[bytes | None] = [None] * len(layout)
    if raw[: len(MAGIC)] == MAGIC:
        end -= 8 + int.from_bytes(content[end - 8: end], "little")
        block_lists = serialization.msgpack_restore(bytes(content[max(end, offset): len(content) - 8]))
    runs = [_byte_runs(None if packed is None else _unpacked_blocks(packed, size), size)
            for packed, size in zip(block_lists, [math.prod(shape) * dtype.itemsize for dtype, shape in layout],
                                    strict=True)]
    if offset + sum(stop - start for array_runs in runs for start, stop in array_runs) != end:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({len(raw)} bytes; its header says "
                              "otherwise)")
    if hashlib.sha256(content).digest() != bytes(raw[-DIGEST_BYTES:]):
        raise CheckpointError(f"checkpoint {path} is damaged: its contents do not match their SHA-256 checksum")
    arrays = []
    for (dtype, shape), packed, array_runs in zip(layout, block_lists, runs, strict=True):
        if packed is None:  # written whole
            arrays.append(np.frombuffer(content, dtype, math.prod(shape), offset).reshape(shape))
            offset += array_runs[0][1]
            continue
        data = np.zeros(math.prod(shape) * dtype.itemsize, np.uint8)  # calloc'd: blocks left out take no memory
        for start, stop in array_runs:
            data[start:stop] = np.frombuffer(content, np.uint8, stop - start, offset)
            offset += stop - start
        arrays.append(data.view(dtype).reshape(shape))
    return {"meta": header["meta"], **_filled(skeleton, arrays)}


def _unpacked_blocks(packed: bytes, size: int) -> np.ndarray:
    """The ``[ceil(size / BLOCK_BYTES)]`` bool block list of an array of ``size`` bytes, from its packed bits."""
    return np.unpackbits(np.frombuffer(packed, np.uint8), count=-(-size // BLOCK_BYTES)).astype(bool)


def latest_good_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """``(path, meta, state_dict, extra)`` of the newest checkpoint of ``run_dir`` that reads back whole
    (None if there is none); each newer damaged one is named on stderr and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return (path, *read_checkpoint_with_extra(path))
        except CheckpointError as err:
            print(f"jaxrl: {err}; trying the previous checkpoint", file=sys.stderr)
    return None


def latest_for_resume(run_dir: Path, algorithm: str, loop: str, unit: str
                      ) -> tuple[Path, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(path, meta, state_dict, extra)`` of the newest complete checkpoint of ``run_dir``, which must
    have been written by the ``loop`` ("host" or "device") loop of ``algorithm`` and count ``unit``
    ("update" or "record"); temporary files of a killed writer are deleted first."""
    remove_partial_writes(run_dir)
    found = latest_good_checkpoint(run_dir)
    if found is None:
        raise CheckpointError(f"nothing to resume: {run_dir} has no complete, undamaged checkpoint")
    path, meta, state_dict, extra = found
    if meta.get("algorithm") != algorithm or meta.get("loop", "host") != loop or unit not in meta:
        raise CheckpointError(f"checkpoint {path} was not written by the {loop} loop of {algorithm} "
                              f"(its meta: algorithm={meta.get('algorithm')!r}, loop={meta.get('loop')!r})")
    return path, meta, state_dict, extra


def _leaf_shapes(tree: Any) -> dict[str, tuple]:
    """Shape of every leaf by path (arrays or ``jax.ShapeDtypeStruct`` templates)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): tuple(getattr(leaf, "shape", None) or np.shape(leaf)) for path, leaf in flat}


# State fields that later versions added, whose initial value is what a checkpoint saved without
# them meant: observation statistics of the off-policy agents, which did not normalise before,
# PPO's reward normalisation (absent before, None unless norm_reward) and its reward clip (an
# hparam, infinite unless reward_clip is set).
FIELDS_ADDED_LATER = ("obs_stats", "reward_norm", "reward_clip")


def _with_fields_added_later(state_dict: dict[str, Any], template_dict: dict[str, Any]) -> dict[str, Any]:
    """``state_dict`` plus each :data:`FIELDS_ADDED_LATER` subtree it lacks, taken from ``template_dict``."""
    merged = dict(state_dict)
    for key, value in template_dict.items():
        if key not in merged:
            if key in FIELDS_ADDED_LATER:
                merged[key] = value
        elif isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = _with_fields_added_later(merged[key], value)
    return merged


def restore_state(template: Any, state_dict: dict[str, Any], path: Path) -> Any:
    """Fill ``template``'s structure (arrays or ``jax.eval_shape`` output) with ``state_dict``;
    name any mismatch. Fields added since the checkpoint was written (:data:`FIELDS_ADDED_LATER`)
    keep ``template``'s values."""
    template_dict = tree_state_dict(template)
    state_dict = _with_fields_added_later(state_dict, template_dict)
    expected = _leaf_shapes(template_dict)
    found = _leaf_shapes(state_dict)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"checkpoint {path} does not match this config's network or saved state (another config, or a "
            f"jaxrl version that saved other fields): "
            f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {extra[:3]}{'...' if len(extra) > 3 else ''}"
        )
    wrong = [(k, found[k], expected[k]) for k in expected if found[k] != expected[k]]
    if wrong:
        name, got, want = wrong[0]
        raise CheckpointError(f"checkpoint {path}: {name} has shape {got}, this config expects {want}")
    return serialization.from_state_dict(template, state_dict)


def save_sub_run(directory: Path, algorithm: str, config: Any, state: Any, meta: dict[str, Any], keep: int) -> Path:
    """An evaluable run of its own in ``directory`` (``jaxrl eval DIR`` / ``jaxrl.load``): ``config.json``
    and a checkpoint of ``state`` (one seed's, no seed axis) with ``meta`` (``algorithm``, ``env_steps``, ...)."""
    from jaxrl.io.config_file import save_config

    with writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
    save_config(config, directory / "config.json", algorithm)
    return save_checkpoint(directory, jax.tree.map(np.asarray, state), {"algorithm": algorithm, **meta}, keep=keep)
