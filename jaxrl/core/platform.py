"""Choices that depend on the backend a program is compiled for."""

from __future__ import annotations

import jax

# Time steps per loop iteration of the hot per-step scans on an accelerator.
ACCELERATOR_SCAN_UNROLL = 8


def scan_unroll() -> int:
    """``unroll`` for the scans over env steps and sequence steps (acting, recurrent cells).

    On a GPU every loop iteration costs ~20 us of control however little its body computes
    (a 128-step scan of a few elementwise ops took 3.1 ms on an H100), so the acting scan of a
    small rollout was mostly loop overhead; 8 steps per iteration cut that by 8. On XLA:CPU an
    iteration costs ~1 us and unrolling would only lengthen compilation, so it stays 1.
    """
    return 1 if jax.default_backend() == "cpu" else ACCELERATOR_SCAN_UNROLL
