"""Validation shared by every algorithm's config, and config (de)serialisation."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

VECTORIZATION_MODES = ("sync", "async", "vector_entry_point", "envpool")

ConfigT = TypeVar("ConfigT")


def _type_error(name: str, hint: Any, value: Any) -> str | None:
    """Why ``value`` does not fit the annotation ``hint`` of field ``name`` (None if it does)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, tuple | list) or not all(_type_error(name, args[0], v) is None for v in value):
            return f"{name} must be a sequence of {args[0].__name__}, got {value!r}"
        return None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return None if ok else f"{name} must be {hint.__name__}, got {type(value).__name__} {value!r}"


def check_field_types(config: Any) -> None:
    """``ValueError`` naming the first field whose value does not have its annotated type, and the
    first float field that is NaN (no field means anything as NaN)."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        problem = _type_error(field.name, hints[field.name], value)
        if problem is not None:
            raise ValueError(problem)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{field.name} must not be NaN")


def validate_common(config: Any) -> None:
    """Checks on the fields every algorithm config has; raises ``ValueError`` naming the field."""
    check_field_types(config)
    if not isinstance(config.env, str) or not config.env:
        raise ValueError(f"env must be a non-empty gymnasium env id, got {config.env!r}")
    for name in ("total_timesteps", "num_envs"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.seed < 0:
        raise ValueError(f"seed must be >= 0, got {config.seed}")
    if not 0.0 < config.gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {config.gamma}")
    if config.vectorization not in VECTORIZATION_MODES:
        raise ValueError(f"vectorization must be one of {VECTORIZATION_MODES}, got {config.vectorization!r}")
    if config.patience is not None and config.patience < 1:
        raise ValueError(f"patience must be >= 1 (or None), got {config.patience}")
    if config.checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0, got {config.checkpoint_every}")
    timeout = config.env_step_timeout
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"env_step_timeout must be a positive number of seconds (or None), got {timeout}")
    if config.keep_checkpoints < 1:
        raise ValueError(f"keep_checkpoints must be >= 1, got {config.keep_checkpoints}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(config_cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """Rebuild a config, turning lists back into tuples; unknown keys are an error."""
    field_names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - field_names)
    if unknown:
        raise ValueError(f"unknown {config_cls.__name__} fields: {', '.join(unknown)}")
    hints = typing.get_type_hints(config_cls)
    converted = {
        name: tuple(value) if isinstance(value, list) and "tuple" in str(hints[name]) else value
        for name, value in values.items()
    }
    return config_cls(**converted)


def load_run_config(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """``(algorithm, config dict)`` from ``run_dir/config.json``; ``ValueError`` naming what is wrong."""
    config_file = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise ValueError(f"run directory {run_dir} does not exist")
    try:
        saved = json.loads(config_file.read_text())
        return str(saved["algorithm"]), dict(saved["config"])
    except FileNotFoundError:
        raise ValueError(f"{config_file} is missing: {run_dir} is not a jaxrl run directory") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{config_file} is corrupt: {type(err).__name__}: {err}") from None


# Fields that may differ between a run and its resumption: they change nothing that is learned.
RESUME_MAY_CHANGE = ("progress",)


def check_resumable(run_dir: Path, algorithm: str, config: Any) -> None:
    """``ValueError`` unless ``run_dir`` was written by ``algorithm`` with this ``config``
    (apart from :data:`RESUME_MAY_CHANGE`); names the differing fields."""
    saved_algorithm, saved = load_run_config(run_dir)
    if saved_algorithm != algorithm:
        raise ValueError(f"cannot resume {run_dir} as {algorithm}: it is a {saved_algorithm} run")
    current = json.loads(json.dumps(config_to_dict(config)))  # tuples as lists, like the file
    differing = sorted(name for name in set(saved) | set(current)
                       if name not in RESUME_MAY_CHANGE and saved.get(name) != current.get(name))
    if differing:
        details = ", ".join(f"{name}: saved {saved.get(name)!r}, now {current.get(name)!r}" for name in differing)
        raise ValueError(f"cannot resume {run_dir} with a different config ({details})")


def save_config(config: Any, path: Path, algorithm: str, **about: Any) -> None:
    """Write ``{"algorithm": ..., "config": {...}, **about}`` as JSON (``about``: how the run was
    launched, e.g. ``loop`` and ``num_seeds``, so ``--resume`` can relaunch it the same way)."""
    payload = {"algorithm": algorithm, "config": config_to_dict(config), **about}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def load_run_launch(run_dir: Path) -> dict[str, Any]:
    """How a run was launched (``loop``, ``num_seeds``), from its config.json; host/1 for old runs."""
    saved = json.loads((Path(run_dir) / "config.json").read_text())
    return {"loop": saved.get("loop", "host"), "num_seeds": int(saved.get("num_seeds", 1))}
