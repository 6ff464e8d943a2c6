"""Single-file checkpoints: flax msgpack, written atomically.

Why not orbax: a jaxrl checkpoint is a few MB of parameters and optimizer state
that must survive SIGKILL at any moment. One msgpack file written to a temporary
name, fsynced, then ``os.replace``d into place gives exactly that with no background
threads and no coupling to orbax's fast-moving API across JAX versions.

A checkpoint file is ``MAGIC``, an 8-byte header length, a msgpack header ``{"meta": {...},
"sha256": ...}`` and the body, a msgpack of ``{"state", "extra"}`` written straight after it
(no second copy of a large replay buffer in memory). ``meta`` records the algorithm, env
steps, update count and the loop's PRNG key; the SHA-256 of the body is checked on every
read, so flipped bytes are refused instead of loaded.
The newest checkpoint that reads back whole is the one loaded (:func:`latest_good_checkpoint`).
Files from before checksums (``{"meta", "state", "extra"}``) still load, unchecked.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from jaxrl.io.files import writing

CHECKPOINT_DIR = "checkpoints"
MAGIC = b"JAXRLCK1"
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


def _atomic_write(path: Path, *parts: bytes) -> None:
    """Write ``parts`` to a temporary file, then rename it to ``path``: a crash or a full disk
    leaves the older checkpoints as they were, and the partial file is removed."""
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


def _to_state_dict(tree: Any) -> Any:
    return jax.tree.map(np.asarray, serialization.to_state_dict(jax.device_get(tree)))


def save_checkpoint(
    run_dir: Path, state: Any, meta: dict[str, Any], keep: int = 3, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``state`` (any pytree), JSON-able ``meta`` and optional ``extra`` pytrees (e.g. a replay
    buffer, needed to resume an off-policy run); keep the newest ``keep`` files."""
    path = checkpoint_path(run_dir, int(meta["env_steps"]))
    body = {"state": _to_state_dict(state)}
    if extra:
        body["extra"] = {name: _to_state_dict(tree) for name, tree in extra.items()}
    body_bytes = serialization.msgpack_serialize(body)
    header = serialization.msgpack_serialize({"meta": meta, "sha256": hashlib.sha256(body_bytes).hexdigest()})
    _atomic_write(path, MAGIC, len(header).to_bytes(8, "little"), header, body_bytes)
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
        if raw[: len(MAGIC)] == MAGIC:
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


def restore_state(template: Any, state_dict: dict[str, Any], path: Path) -> Any:
    """Fill ``template``'s structure (arrays or ``jax.eval_shape`` output) with ``state_dict``;
    name any mismatch."""
    expected = _leaf_shapes(serialization.to_state_dict(template))
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
