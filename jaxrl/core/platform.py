"""Choices that depend on the backend a program is compiled for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import jax

# Time steps per loop iteration of the hot per-step scans on an accelerator.
ACCELERATOR_SCAN_UNROLL = 8
# An env step of more jaxpr equations than this is not unrolled. Counted on one env's step (sub-jaxprs
# included): phys2d CartPole ~120, gymnax Breakout-MinAtar ~370; MuJoCo physics is 10-100x more
# (Playground's MJX CartpoleBalance ~12,000, brax's ant ~16,000).
SMALL_STEP_EQUATIONS = 2_000


def scan_unroll(step_equations: int = 0) -> int:
    """``unroll`` for the scans over env steps (the acting scan; recurrent layers: :func:`recurrent_scan_unroll`),
    whose env step has ``step_equations`` jaxpr equations (:func:`count_equations`).

    On a GPU every loop iteration costs ~20 us of control however little its body computes
    (a 128-step scan of a few elementwise ops took 3.1 ms on an H100), so the acting scan of a
    small rollout was mostly loop overhead; 8 steps per iteration cut that by 8. A physics step
    takes far longer than that control (MJX's CartpoleBalance, 2,048 envs: ~190 us on an H200) and
    unrolling it 8 times multiplies its compilation (PPO on Playground's CartpoleBalance compiled
    in 72 s on an H200 with it; 16.4 s against 33.5 s on this repo's 2-core CPU at unroll 1 and 8),
    so a step above :data:`SMALL_STEP_EQUATIONS` stays rolled. On XLA:CPU an iteration costs ~1 us
    and unrolling would only lengthen compilation, so it stays 1.
    """
    if jax.default_backend() == "cpu" or step_equations > SMALL_STEP_EQUATIONS:
        return 1
    return ACCELERATOR_SCAN_UNROLL


def run_once_compiler_options() -> dict[str, int]:
    """XLA options for a program that runs once per run (a train state's initialisation).

    Initialising the networks is mostly random bits: threefry hashing unrolled into thousands of
    integer operations, which LLVM then optimises for a program that takes milliseconds to run.
    On XLA:CPU, with LLVM's optimisation off, SAC's Pendulum init compiled in 1.07-1.24 s against
    1.73-1.99 s (the saving is ~0.7 s of every device-loop run's start-up) and ran in the same
    ~5 ms. The training program keeps full optimisation: compiled at level 0 it ran 3.8x slower.
    Left as is on accelerators, where it was not measured.
    """
    return {"xla_backend_optimization_level": 0} if jax.default_backend() == "cpu" else {}


def count_equations(jaxpr: jax.extend.core.Jaxpr) -> int:
    """Equations of ``jaxpr``, those of its sub-jaxprs (loop bodies, branches, calls) included."""
    total = 0
    for equation in jaxpr.eqns:
        total += 1
        for param in equation.params.values():
            for value in param if isinstance(param, (list, tuple)) else (param,):
                inner = getattr(value, "jaxpr", value)  # a ClosedJaxpr holds its Jaxpr
                if hasattr(inner, "eqns"):
                    total += count_equations(inner)
    return total


def project_inputs_first() -> bool:
    """Whether a recurrent layer projects its inputs for the whole sequence before its time loop
    (and takes its gradient by :func:`jaxrl.nets.cells.recur`'s written-out backward pass).

    On a GPU it takes a matrix product out of every step of the forward and the backward loop.
    On XLA:CPU, where each step is compute-bound rather than launch-bound, the loop over a
    precomputed ``[T, S, B, G*H]`` array measured slower than projecting inside the loop.
    """
    return jax.default_backend() != "cpu"


# The most time steps of a recurrent layer unrolled into one loop iteration on an accelerator.
ACCELERATOR_RECURRENT_UNROLL = 64


def recurrent_scan_unroll(length: int) -> int:
    """``unroll`` of a recurrent layer's time loop over ``length`` steps.

    On a GPU the loop's per-iteration control cost is a large share of a small cell's step, so
    sequences up to 64 steps are unrolled completely: on an H100, PPO at 2048 envs x 64 steps
    with full-rollout BPTT ran at 4.53M env steps/s (GRU 64) and 3.16M (LSTM 128) unrolled,
    against 4.29M and 2.62M with 8 steps per iteration, for about the same compile time.
    On XLA:CPU: 1, as :func:`scan_unroll`.
    """
    return 1 if jax.default_backend() == "cpu" else min(length, ACCELERATOR_RECURRENT_UNROLL)


@contextlib.contextmanager
def seed_batched_lowering(batched: bool = True) -> Iterator[None]:
    """Lower the programs inside with the random-bit hash (threefry) written out in full on XLA:CPU
    where ``batched``: for programs vmapped over seeds or hyper-parameters. Same bits either way.

    On CPU JAX lowers each threefry call as a 5-iteration while loop, to keep compiles of code
    with many calls short. Under ``vmap`` the loops carry batched keys, and LLVM took far longer
    over them (the gap vanished with LLVM's optimisation off): measured compile, rolled against
    written out (JAX's own GPU/TPU lowering, used here for XLA:CPU only) -- PPO 16 seeds x 4x128
    7.2 against 5.5 s (run time within noise), TD3 16 seeds 9.9 against 6.6 s, SAC 16 seeds 10.3
    against 7.2 s (run 6% faster); parameters bit-identical. One seed gained nothing (PPO 8x128 4.5
    against 4.4 s) or lost (SAC 6.4 against 7.1 s compile, run 5% slower), so single-seed programs
    keep JAX's lowering. The rule is JAX-internal; where it has moved, this does nothing. Another
    thread lowering meanwhile would get the written-out rule too: the same bits.
    """
    taken = _take_rolled_threefry_lowering() if batched else None
    try:
        yield
    finally:
        if taken is not None:
            cpu_lowerings, primitive, rolled = taken
            cpu_lowerings[primitive] = rolled


def _take_rolled_threefry_lowering() -> tuple[dict, Any, Any] | None:
    """Remove JAX's CPU-only (rolled) threefry lowering, so the platforms' common (written-out) one
    applies; returns what to put back, or None where JAX keeps it elsewhere."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random.threefry2x32 import threefry2x32_p

        cpu_lowerings = mlir._platform_specific_lowerings["cpu"]
        return cpu_lowerings, threefry2x32_p, cpu_lowerings.pop(threefry2x32_p)
    except (ImportError, AttributeError, KeyError):
        return None


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Trace the programs inside at ``precision`` (:data:`jaxrl.config.MATMUL_PRECISIONS`); "default"
    leaves JAX's own.

    JAX fixes a matrix product's precision when it traces it, so the loops trace inside this. On
    NVIDIA GPUs since Ampere "default" multiplies float32 matrices in TF32 (a 10-bit mantissa),
    "highest" in full float32. Measured on an H200 (one seed): PPO on Playground's CartpoleBalance
    with Playground's published config (values up to ~2,000 from its reward scale 10) evaluated
    513 (greedy 570) in TF32 and 946 (greedy 1000) in float32, at 1.44M against 0.86M env steps/s.
    XLA:CPU computes float32 products in float32 either way.
    """
    if precision == "default":
        yield
        return
    with jax.default_matmul_precision(precision):
        yield

