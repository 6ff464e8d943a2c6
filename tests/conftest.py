import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# The CLI turns on JAX's persistent compilation cache; tests stay hermetic (one test turns it on).
os.environ.setdefault("JAXRL_COMPILATION_CACHE", "off")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from toy_envs import register_toy_envs

register_toy_envs()
