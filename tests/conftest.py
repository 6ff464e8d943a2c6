import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_options import FAST_COMPILE_FLAGS  # noqa: E402  (no jax import: XLA_FLAGS must come first)

# Fast-compiling XLA flags for the suite's tiny programs (why: tests/compile_options.py).
if not os.environ.get("JAXRL_TEST_FULL_OPTIMISATION"):
    _flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = " ".join([_flags] + [f"--{name}={value}" for name, value in FAST_COMPILE_FLAGS.items()
                                                   if name not in _flags]).strip()

import pytest
from toy_envs import register_toy_envs

from jaxrl.envs.suites import headless_mujoco_rendering

register_toy_envs()
# jaxrl picks MuJoCo's off-screen backend before it imports a suite; tests that import a suite
# themselves (pytest.importorskip) must not get there first, whichever test a worker runs first
headless_mujoco_rendering()


def _share_compiled_programs_between_tests() -> None:
    """Many tests compile the same device programs (PPO on CartPole at the tests' small sizes, ...).
    A persistent compilation cache in a folder of this test run only, shared by its xdist
    workers, compiles each once. The folder is new for every run, so no test sees a program
    compiled by another version of the code. CLI subprocesses get it through
    ``JAXRL_COMPILATION_CACHE``, which the CLI reads."""
    import tempfile
    import uuid

    import jax

    # the controller draws the id before it starts the workers, which inherit its environment
    run_id = os.environ.setdefault("JAXRL_TEST_RUN_ID", uuid.uuid4().hex)
    folder = Path(tempfile.gettempdir()) / f"jaxrl-tests-xla-{run_id}"
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)
    # a resumed CLI run loads what its interrupted run compiled (a test of the CLI's own cache
    # names its folder itself)
    os.environ["JAXRL_COMPILATION_CACHE"] = str(folder)


_share_compiled_programs_between_tests()


def pytest_sessionfinish(session, exitstatus):
    """The run's compilation cache goes with the run (the controller removes it; workers leave it)."""
    if not hasattr(session.config, "workerinput"):
        import shutil

        import jax

        shutil.rmtree(jax.config.jax_compilation_cache_dir, ignore_errors=True)


@pytest.fixture
def hide_module(monkeypatch):
    """``hide_module(name)``: ``import name`` raises ModuleNotFoundError for the rest of the test, as
    on a machine without that package."""
    import builtins

    real_import = builtins.__import__

    def hide(hidden: str) -> None:
        def import_without(name, *args, **kwargs):
            if name == hidden:
                raise ModuleNotFoundError(f"No module named {hidden!r}", name=hidden)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", import_without)

    return hide
