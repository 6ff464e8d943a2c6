"""Who owns a run directory: a fresh run never writes into another run's files, and one process
at a time writes a run (a lock file naming its pid and host; a dead owner's lock is taken over)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

LOCK_FILE = ".lock"
# What a run leaves in its directory; --overwrite removes exactly these (and seed_*/ sub-runs).
RUN_FILES = ("config.json", "metrics.jsonl", "timing.jsonl", "results.json", "learning_curve.png", "wandb_run_id",
             "sweep.json", "sweep.md", "sweep.png")
RUN_FOLDERS = ("checkpoints", "tensorboard", "wandb", "best", "videos")  # best/: the best evaluated agent
RUN_MARKERS = ("config.json", "metrics.jsonl", "checkpoints", "sweep.json")  # any of them: the directory holds a run
SUB_RUNS = ("seed_*", "point_*")  # per-seed sub-runs of a device run, per-point runs of a sweep


class RunDirError(ValueError):
    """The run directory is another run's, or another process is writing it."""


def holds_a_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` already has a run's files (config, metrics or checkpoints)."""
    return any((Path(run_dir) / name).exists() for name in RUN_MARKERS)


def next_free_run_dir(run_dir: Path) -> Path:
    """``run_dir`` if it holds no run, else the first of ``run_dir__2``, ``run_dir__3``, ... that holds none."""
    run_dir, suffix = Path(run_dir), 2
    candidate = run_dir
    while holds_a_run(candidate):
        candidate = run_dir.with_name(f"{run_dir.name}__{suffix}")
        suffix += 1
    return candidate


def clear_run(run_dir: Path) -> None:
    """Remove the files a run wrote in ``run_dir`` (and its sub-runs), nothing else."""
    run_dir = Path(run_dir)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    sub_runs = [p.name for pattern in SUB_RUNS for p in run_dir.glob(pattern) if p.is_dir()]
    for folder in (*RUN_FOLDERS, *sub_runs):
        shutil.rmtree(run_dir / folder, ignore_errors=True)


def refuse_existing_run(run_dir: Path, algorithm: str) -> None:
    """:class:`RunDirError` when a fresh run would write into ``run_dir`` that holds a run."""
    if holds_a_run(run_dir):
        raise RunDirError(f"{run_dir} already holds a run; continue it with `jaxrl train {algorithm} --resume "
                          f"{run_dir}`, replace it with --overwrite, or choose another --run-dir")


def _owner_alive(owner: dict) -> bool:
    """Whether the lock's owner may still write: another host's process is assumed alive; this
    process's own lock (left by a run that failed before closing) is not an obstacle."""
    if owner.get("host") != socket.gethostname():
        return True
    if owner.get("pid") == os.getpid():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


def acquire_lock(run_dir: Path) -> Path:
    """Create ``run_dir/.lock`` holding this process's pid and host; a lock whose process has died
    (same host) is taken over; a live one is a :class:`RunDirError` naming its owner."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # the run dir, or a folder above it, is a file
        file = next(part for part in (*reversed(run_dir.parents), run_dir) if part.exists() and not part.is_dir())
        raise RunDirError(f"cannot use {run_dir} as a run directory: {file} is a file") from None
    path = run_dir / LOCK_FILE
    me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
            except (OSError, ValueError):
                owner = {}
            if owner and _owner_alive(owner):
                raise RunDirError(f"{run_dir} is being written by process {owner.get('pid')} on "
                                  f"{owner.get('host')} (lock file {path}); wait for it to finish or stop it") from None
            path.unlink(missing_ok=True)  # a dead owner's (or a torn) lock
            continue
        with os.fdopen(fd, "w") as lock:
            lock.write(me)
        return path
    raise RunDirError(f"could not take the lock {path}")


def claim_for_fresh_run(run_dir: Path, algorithm: str, overwrite: bool) -> Path:
    """Take ``run_dir``'s lock for a fresh run and make the directory that run's: with ``overwrite``
    the files of a run already there are removed, otherwise such a run is refused
    (:class:`RunDirError`). The lock is given back when the claim fails. Returns the lock's path."""
    lock = acquire_lock(run_dir)
    try:
        clear_run(run_dir) if overwrite else refuse_existing_run(run_dir, algorithm)
    except BaseException:
        release_lock(lock)
        raise
    return lock


def release_lock(path: Path | None) -> None:
    """Remove a lock this process took (a no-op if it is gone or not ours)."""
    if path is None:
        return
    try:
        if json.loads(Path(path).read_text()).get("pid") == os.getpid():
            Path(path).unlink()
    except (OSError, ValueError):
        pass
