"""How the test suite compiles: fast-compiling XLA:CPU flags for the whole suite, and users'
optimisation back for the few tests whose programs run long enough for it to pay.

The suite's runs are tiny, so compiling is most of its time (XLA's backend compile was 1113 s of
the suite's 2148 test-seconds), and two XLA:CPU code-generation choices most of that:
- LLVM's optimisation passes: at level 0 tests/loops/test_device_loop.py took 61 s against 88 s;
- XLA:CPU's newer (MLIR) fusion emitters: its older emitters halve the compile of a tiny PPO, GRU
  or SAC program (2.1-4.3 s against 3.7-8.9 s) and took four of the slowest files from 391 s to 267 s.
XLA's own (HLO) optimisations are unchanged. Users' programs keep both: a training program ran
3.8x slower at level 0 and 2x slower with the older emitters.
"""

# XLA_FLAGS of the test processes (set by conftest.py unless JAXRL_TEST_FULL_OPTIMISATION=1)
FAST_COMPILE_FLAGS = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": "false"}

# `jax.jit(..., compiler_options=USERS_OPTIMISATION)` compiles one program at XLA's defaults (a
# per-program option wins over XLA_FLAGS): a device-loop learning test of 40k steps took 13.6 s
# this way against 35.5 s at the suite's flags.
USERS_OPTIMISATION = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}


def train_seeds_at_users_optimisation(algorithm: str, config, num_seeds: int = 2):
    """The device-loop program of ``config`` for seeds ``config.seed ...`` (keyed as
    ``run_device`` keys them), vmapped and compiled with USERS_OPTIMISATION."""
    import jax  # here, not at the top: conftest imports this module before XLA_FLAGS is set
    import numpy as np

    from jaxrl.api import make_train
    from jaxrl.loops.device_run import seed_keys

    keys = seed_keys(config.seed + np.arange(num_seeds))
    return jax.jit(jax.vmap(make_train(algorithm, config)), compiler_options=USERS_OPTIMISATION)(keys)
