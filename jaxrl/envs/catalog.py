"""Every env id jaxrl trains on, grouped by where it comes from: what ``jaxrl envs`` lists.

A group says which loops run its ids and what installs them; a suite that is missing or does not
import keeps its place in the listing with the reason (the same one line a run would give).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import NamedTuple

import gymnasium as gym

from jaxrl.envs.atari import PREFIX as ATARI_PREFIX
from jaxrl.envs.atari import is_atari_id, register_atari_ids
from jaxrl.envs.device import functional_env_ids
from jaxrl.envs.suites import SUITE_MODULES, import_suite
from jaxrl.envs.wrappers import NO_VELOCITY_DEVICE_BASES

# gymnasium registers these compatibility shims for old gym envs; they are not tasks.
_NOT_TASKS = ("GymV21Environment-v0", "GymV26Environment-v0")


class EnvGroup(NamedTuple):
    """One source of env ids."""

    name: str  # what `jaxrl envs NAME` picks: phys2d, gymnax, brax, playground, jaxrl, gymnasium
    about: str  # where its envs come from, which loops run them, what installs them
    ids: tuple[str, ...]  # empty where the group is unavailable
    unavailable: str | None = None  # why its ids cannot run here (a missing extra, an import error)


def _suite_group(prefix: str, about: str) -> EnvGroup:
    suite = importlib.import_module(SUITE_MODULES[prefix])
    try:
        import_suite(suite.PACKAGE, prefix, suite.EXTRA)
    except ValueError as err:
        return EnvGroup(prefix.rstrip("/"), about, (), str(err))
    try:
        version = metadata.version(suite.DISTRIBUTION)
    except metadata.PackageNotFoundError:  # importable from a path, not installed by pip
        version = "version unknown"
    return EnvGroup(prefix.rstrip("/"), f"{about} ({suite.DISTRIBUTION} {version})",
                    tuple(prefix + name for name in suite.names()))


def _gymnasium_ids() -> tuple[str, ...]:
    """gymnasium's registered envs outside a namespace (its JAX ones, ``phys2d/``, are their own group)."""
    return tuple(sorted(env_id for env_id, spec in gym.registry.items()
                        if spec.namespace is None and env_id not in _NOT_TASKS))


def _atari_group() -> EnvGroup:
    about = "Atari 2600 games, preprocessed (jaxrl/envs/atari.py): host loop; extra 'atari'"
    try:
        register_atari_ids(ATARI_PREFIX)
    except ValueError as err:
        return EnvGroup("atari", about, (), str(err))
    return EnvGroup("atari", f"{about} (ale-py {metadata.version('ale-py')})",
                    tuple(sorted(env_id for env_id in gym.registry if is_atari_id(env_id))))


_GROUPS = {
    "phys2d": lambda: EnvGroup("phys2d", "gymnasium's functional JAX envs: device loop (the default for them) "
                               "and host loop; no extra", tuple(functional_env_ids())),
    "gymnax": lambda: _suite_group("gymnax/", "device loop (default) and host loop; extra 'gymnax'"),
    "brax": lambda: _suite_group("brax/", "device loop (default) and host loop; extra 'brax'"),
    "playground": lambda: _suite_group("playground/", "MuJoCo Playground on MJX: device loop (default) and "
                                                      "host loop; extra 'playground'"),
    "jaxrl": lambda: EnvGroup("jaxrl", "velocity-hidden classic control: host loop (default; no extra) and device "
                              "loop on gymnax's ports (extra 'gymnax')", tuple(NO_VELOCITY_DEVICE_BASES)),
    "gymnasium": lambda: EnvGroup("gymnasium", "gymnasium's registered envs: host loop; Box2D envs need "
                                  "extra 'box2d', MuJoCo envs extra 'mujoco'", _gymnasium_ids()),
    "atari": _atari_group,
}
GROUP_NAMES = tuple(_GROUPS)


def env_groups(names: tuple[str, ...] = ()) -> list[EnvGroup]:
    """The groups ``names`` asks for (default: all), in :data:`GROUP_NAMES` order; ``ValueError``
    naming an unknown one. A suite's group imports the suite (seconds), so only named ones are built."""
    unknown = sorted(set(names) - set(_GROUPS))
    if unknown:
        raise ValueError(f"unknown env group(s) {', '.join(map(repr, unknown))}; groups: {', '.join(GROUP_NAMES)}")
    return [build() for name, build in _GROUPS.items() if not names or name in names]
