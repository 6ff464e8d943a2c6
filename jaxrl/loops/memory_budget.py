"""What a run will allocate, estimated before anything is allocated, and refused in one line when it
cannot fit: the replay buffer, the rollout, the envs (host processes or device env states)."""

from __future__ import annotations

import math
from typing import Any

import jax

# Host envs are Python objects (sync) or whole Python processes (async); these are conservative
# per-env figures for gymnasium's classic envs, measured as RSS growth on this project's machines.
HOST_ENV_BYTES = {"sync": 16 * 2**10, "vector_entry_point": 2**10, "envpool": 2**10, "async": 60 * 2**20}


def tree_bytes(tree: Any) -> int:
    """Bytes of a pytree of arrays or ``jax.ShapeDtypeStruct``s."""
    return sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))


def available_host_bytes() -> int | None:
    """``MemAvailable`` of /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_device_bytes() -> int | None:
    """Free memory of this process's first device where the backend reports it (GPU, TPU), else the
    host's. ``jax.local_devices``: in a multi-process run ``jax.devices()[0]`` is process 0's, whose
    memory no other process may query."""
    stats = getattr(jax.local_devices()[0], "memory_stats", lambda: None)()
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return available_host_bytes()


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"


def check_fits(parts: dict[str, int], available: int | None, where: str) -> None:
    """``ValueError`` listing the estimate when ``parts`` (name -> bytes) add up to more than
    ``available`` bytes (nothing is checked when the available memory is unknown)."""
    total = sum(parts.values())
    if available is None or total <= available:
        return
    detail = ", ".join(f"{name} {_gib(size)}" for name, size in sorted(parts.items(), key=lambda kv: -kv[1]))
    raise ValueError(f"this config needs about {_gib(total)} of {where} memory ({detail}), more than the "
                     f"{_gib(available)} available; lower the sizes named")
