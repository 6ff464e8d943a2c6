"""JAX's persistent compilation cache for CLI runs: where it lives, and what a full disk leaves."""

from __future__ import annotations

import atexit
import os
import sys
import time
import warnings
from pathlib import Path

import jax

# The start of JAX's warning when it could not store an entry (jax/_src/compiler.py).
FAILED_WRITE = "Error writing persistent compilation cache entry"


def use_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache for this process; returns its folder (None: off,
    also where the folder cannot be made or written, which one line on stderr says).

    The CLI calls it, so a second ``jaxrl train`` of the same config loads its compiled programs
    from disk instead of compiling them again. The folder is ``$JAXRL_COMPILATION_CACHE``, or
    ``$XDG_CACHE_HOME/jaxrl/xla`` (``~/.cache/jaxrl/xla``); ``JAXRL_COMPILATION_CACHE=off`` turns
    it off, and a cache folder already chosen for JAX (``JAX_COMPILATION_CACHE_DIR``) is kept.
    Entries are keyed by the program, the jax/jaxlib versions and the device, so a stale entry
    is never used. Every program is stored, the small ones too (JAX stores only those that took a
    second or more, unless ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise): a
    host-loop run compiles small programs (key splits, the rollout's stacking, the policy), and
    with them stored a repeated ``jaxrl train ppo --env CartPole-v1`` took 8.8-9.2 s instead of
    9.5-9.7 s on a 2-core CPU (11 entries, 396 KB; 9.0-9.4 s instead of 11.6-12.1 s while the host
    loop still initialised its agent eagerly, ~50 programs).
    """
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    chosen = os.environ.get("JAXRL_COMPILATION_CACHE", "")
    if chosen.lower() in ("off", "0", "false", "no"):
        return None
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(chosen) if chosen else cache_home / "jaxrl" / "xla"
    problem = unusable_folder(folder)
    if problem:  # training goes on, compiling everything, after one line that says why
        print(f"jaxrl: compilation cache off: {problem} (set JAXRL_COMPILATION_CACHE to another folder, or to 'off')",
              file=sys.stderr)
        return None
    drop_this_runs_entries_if_a_write_fails(folder)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return str(folder)


def unusable_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot hold cache entries (made if missing), or None where it can."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot make the folder {folder}: {err.strerror or err}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write to {folder}"
    return None


def drop_this_runs_entries_if_a_write_fails(folder: Path) -> None:
    """Keep a full disk from poisoning the cache, silently.

    JAX writes an entry in place and never replaces one that exists: a write cut short by a full
    disk leaves a truncated entry that every later run of the program fails to read (a warning
    each time) and compiles again. So JAX's warning for a failed write is not shown (it would
    bury the one line a full disk gets where a checkpoint cannot be written) and, at exit, a run
    that had one removes the entries it wrote; they are compiled again next time.
    """
    started = time.time()
    show = warnings.showwarning
    failed = False

    def showwarning(message, category, filename, lineno, file=None, line=None):
        nonlocal failed
        if str(message).startswith(FAILED_WRITE):
            failed = True
        else:
            show(message, category, filename, lineno, file, line)

    def drop_entries() -> None:
        if failed:
            remove_entries_written_since(folder, started)

    warnings.showwarning = showwarning
    atexit.register(drop_entries)


def remove_entries_written_since(folder: Path, started: float) -> None:
    """Remove the cache entries of ``folder`` last written at or after ``started`` (a time.time())."""
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime >= started - 1.0:  # 1 s: coarse file-system clocks
                entry.unlink()
        except OSError:  # another process removed it, or it cannot be: the next run reads or rewrites it
            pass
