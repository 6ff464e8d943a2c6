"""The JAX env suites the device loop runs, one adapter module each, looked up by id prefix.

A suite is a module with ``PREFIX``, ``EXTRA`` (the pip extra that installs it),
``make(env_id) -> DeviceEnv`` and ``names() -> list[str]`` (its ids without the prefix,
empty where the suite is not installed or does not import). Adding a suite is one module
plus one line in :data:`SUITE_MODULES`.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from types import ModuleType
from typing import Any

SUITE_MODULES = {
    "gymnax/": "jaxrl.envs.gymnax_suite",
    "brax/": "jaxrl.envs.brax_suite",
    "playground/": "jaxrl.envs.playground_suite",
}


def suite_for(env_id: str) -> ModuleType | None:
    """The adapter module whose prefix ``env_id`` starts with, else ``None``."""
    for prefix, module in SUITE_MODULES.items():
        if env_id.startswith(prefix):
            return importlib.import_module(module)
    return None


def is_jax_suite_id(env_id: str) -> bool:
    """Whether ``env_id`` names an env of a JAX suite (``phys2d/`` or a prefix above), which the CLI
    trains in the device loop unless told otherwise; the velocity-hidden ids are not (their host
    envs need no extra)."""
    return env_id.startswith(("phys2d/", *SUITE_MODULES))


def suite_env_ids() -> list[str]:
    """Every id of every installed suite, prefixed."""
    ids = []
    for prefix, module in SUITE_MODULES.items():
        ids += [prefix + name for name in importlib.import_module(module).names()]
    return ids


def unknown_name(suite: str, prefix: str, name: str, known: list[str]) -> ValueError:
    """The one-line error for ``prefix + name`` where ``suite`` has no env ``name``: the nearest names
    (case ignored: ``Breakout-Minatar`` -> ``gymnax/Breakout-MinAtar``), and every name where the
    suite has few, else where ``jaxrl envs`` lists them."""
    by_folded = {known_name.lower(): known_name for known_name in known}
    folded = [name.lower()] if name.lower() in by_folded else difflib.get_close_matches(
        name.lower(), list(by_folded), n=2, cutoff=0.75)
    hint = f" (did you mean {' or '.join(repr(prefix + by_folded[match]) for match in folded)}?)" if folded else ""
    listing = (f"; {suite} has: {', '.join(known)}" if len(known) <= 15
               else f"; `jaxrl envs {prefix.rstrip('/')}` lists its {len(known)} envs")
    return ValueError(f"unknown {suite} env {name!r}{hint}{listing}")


def import_suite(package: str, env_id: str, extra: str) -> Any:
    """``import package``, or a one-line ``ValueError``: the extra to install where it is missing,
    the real cause where it is installed but fails to import (never "not installed" then)."""
    headless_mujoco_rendering()  # brax and Playground import mujoco, which reads MUJOCO_GL once
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as err:
        if err.name == package.split(".")[0]:
            raise ValueError(f"{env_id!r} needs {package.split('.')[0]}: pip install 'jaxrl[{extra}]'") from None
        raise ValueError(f"{package} is installed but does not import: {err} "
                         f"(pip install {str(err.name).split('.')[0]})") from None
    except Exception as err:  # noqa: BLE001 - any import-time failure of an installed suite, said in one line
        raise ValueError(f"{package} is installed but does not import: {type(err).__name__}: {err}") from None


def environment_choice(variable: str, choices: tuple[str, ...], what: str) -> str:
    """``os.environ[variable]`` where it is one of ``choices`` (default: the first); one line naming
    the variable and the choices otherwise."""
    chosen = os.environ.get(variable, choices[0])
    if chosen not in choices:
        raise ValueError(f"{variable}={chosen!r} is not {what}; use one of {', '.join(choices)}")
    return chosen


def headless_mujoco_rendering() -> None:
    """Pick MuJoCo's EGL backend where Linux has no display (before ``mujoco`` is imported, which
    reads ``MUJOCO_GL`` once): its default, GLFW, needs a window; EGL renders off-screen. A value the
    user set is kept."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("MUJOCO_GL", "egl")


class MujocoFrames:
    """RGB frames ``[H, W, 3]`` uint8 of a MuJoCo model at given joint positions, from one renderer
    kept for the whole episode (a renderer per frame costs ~0.2 s)."""

    def __init__(self, mj_model: Any, height: int = 240, width: int = 320):
        self.mj_model, self.size, self.renderer, self.data = mj_model, (height, width), None, None

    def __call__(self, qpos: Any) -> Any:
        import mujoco
        import numpy as np

        if self.renderer is None:
            self.renderer = mujoco.Renderer(self.mj_model, *self.size)
            self.data = mujoco.MjData(self.mj_model)
        self.data.qpos[:] = np.asarray(qpos)
        mujoco.mj_forward(self.mj_model, self.data)
        self.renderer.update_scene(self.data, camera=-1)
        return self.renderer.render()


def installed_names(package: str, list_names) -> list[str]:
    """``list_names(module)`` where ``package`` imports, else ``[]`` (for listing ids in messages)."""
    try:
        return list(list_names(import_suite(package, package, package)))
    except ValueError:
        return []
