import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# The CLI turns on JAX's persistent compilation cache; tests stay hermetic (one test turns it on).
os.environ.setdefault("JAXRL_COMPILATION_CACHE", "off")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from toy_envs import register_toy_envs

from jaxrl.envs.suites import headless_mujoco_rendering

register_toy_envs()
# jaxrl picks MuJoCo's off-screen backend before it imports a suite; tests that import a suite
# themselves (pytest.importorskip) must not get there first, whichever test a worker runs first
headless_mujoco_rendering()
