"""Config files of a run directory: write, read back, and check that a resumption matches.

``config.json`` holds ``{"algorithm": ..., "config": {...every field...}, "loop": ..., "num_seeds": ...}``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

from jaxrl.io.files import writing

ConfigT = TypeVar("ConfigT")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def config_values(config_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (from JSON) as ``config_cls`` field values: lists back into tuples; unknown keys are an error."""
    field_names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - field_names)
    if unknown:
        raise ValueError(f"unknown {config_cls.__name__} fields: {', '.join(unknown)}")
    hints = typing.get_type_hints(config_cls)
    return {name: tuple(value) if isinstance(value, list) and "tuple" in str(hints[name]) else value
            for name, value in values.items()}


def config_from_dict(config_cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """Rebuild a config, turning lists back into tuples; unknown keys are an error."""
    return config_cls(**config_values(config_cls, values))


def load_config_file(path: Path, algorithm: str, config_cls: type) -> dict[str, Any]:
    """The config fields ``jaxrl train ALGO --config PATH`` starts from: a run's ``config.json`` (or the run's
    directory), whose algorithm must be ``algorithm``, or a JSON object of fields. ``ValueError`` in one line
    naming the file otherwise."""
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ValueError(f"--config {file}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"--config {file} is not a JSON file of config fields: {type(err).__name__}: {err}") \
            from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and "algorithm" in data:  # a run's
        if data["algorithm"] != algorithm:
            raise ValueError(f"--config {file} is a {data['algorithm']} run's config; use it with jaxrl train "
                             f"{data['algorithm']}")
        data = data["config"]
    if not isinstance(data, dict):
        raise ValueError(f"--config {file} must hold a JSON object of config fields, got {type(data).__name__}")
    try:
        return config_values(config_cls, data)
    except ValueError as err:
        raise ValueError(f"--config {file}: {err}") from None


def not_a_run_dir(path: Path) -> str:
    """Why ``path`` is not a run directory, said for a message: a sweep's directory (``sweep.json``)
    names one of its points, which are runs; anything else is just not one."""
    points = sorted(child.name for child in Path(path).glob("point_*") if child.is_dir())
    if (Path(path) / "sweep.json").is_file() and points:
        return (f"{path} is a sweep (its summary: sweep.md and sweep.png); each point is a run, "
                f"e.g. {Path(path) / points[0]}")
    parent = Path(path).parent
    if Path(path).name.startswith("seed_") and (parent / "metrics.jsonl").is_file():
        return (f"{path} is one seed of the device run {parent}, whose records hold every seed's: "
                f"jaxrl plot {parent} draws each seed's return")
    return f"{path} is not a jaxrl run directory"


def not_a_directory(path: Path) -> str:
    """Why ``path``, which is not a directory, cannot be read as a run: a file, or nothing there (a run's
    ``best/`` says where its best agents are, or that only ``--eval-every`` keeps one)."""
    path = Path(path)
    if path.exists():
        return f"{path} is a file, not a run directory"
    missing = f"run directory {path} does not exist"
    if path.name != "best" or not (path.parent / "config.json").is_file():
        return missing
    seeds = sorted(child.name for child in path.parent.glob("seed_*") if (child / "best").is_dir())
    if seeds:
        return (f"{missing}; this device run keeps each seed's in {path.parent}/seed_<s>/best, e.g. "
                f"{path.parent / seeds[0] / 'best'}")
    return f"{missing} (a run keeps its best evaluated agent only with --eval-every)"


def load_run_config(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """``(algorithm, config dict)`` from ``run_dir/config.json``; ``ValueError`` naming what is wrong."""
    config_file = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise ValueError(not_a_directory(run_dir))
    try:
        saved = json.loads(config_file.read_text())
        return str(saved["algorithm"]), dict(saved["config"])
    except FileNotFoundError:
        raise ValueError(f"{config_file} is missing: {not_a_run_dir(run_dir)}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{config_file} is corrupt: {type(err).__name__}: {err}") from None


# Fields that may differ between a run and its resumption: they change nothing that is learned.
RESUME_MAY_CHANGE = ("progress", "checkpoint_seconds", "track", "wandb_project", "wandb_entity", "wandb_mode",
                     "capture_video")


def check_resumable(run_dir: Path, algorithm: str, config: Any) -> int | None:
    """``ValueError`` unless ``run_dir`` was written by ``algorithm`` with this ``config``
    (apart from :data:`RESUME_MAY_CHANGE`, and a ``total_timesteps`` at least the saved one);
    names the differing fields. Returns the saved ``total_timesteps`` where ``config`` extends it
    (the run trains on to the new budget), else None."""
    saved_algorithm, saved = load_run_config(run_dir)
    if saved_algorithm != algorithm:
        raise ValueError(f"cannot resume {run_dir} as {algorithm}: it is a {saved_algorithm} run")
    current = json.loads(json.dumps(config_to_dict(config)))  # tuples as lists, like the file
    # a field added to jaxrl after the run was saved holds its default there
    defaults = {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}
    saved = {**json.loads(json.dumps(defaults)), **saved}
    saved_total, total = saved.get("total_timesteps"), current.get("total_timesteps")
    extends = isinstance(saved_total, int) and isinstance(total, int) and total > saved_total
    differing = sorted(name for name in set(saved) | set(current) if name not in RESUME_MAY_CHANGE
                       and saved.get(name) != current.get(name) and not (name == "total_timesteps" and extends))
    if differing:
        details = ", ".join(f"{name}: saved {saved.get(name)!r}, now {current.get(name)!r}" for name in differing)
        more = " (a resumed run's total_timesteps may grow, not shrink)" if "total_timesteps" in differing else ""
        raise ValueError(f"cannot resume {run_dir} with a different config ({details}){more}")
    return saved_total if extends else None


def save_config(config: Any, path: Path, algorithm: str, **about: Any) -> None:
    """Write ``{"algorithm": ..., "config": {...}, **about}`` as JSON (``about``: how the run was
    launched, e.g. ``loop`` and ``num_seeds``, so ``--resume`` can relaunch it the same way)."""
    payload = {"algorithm": algorithm, "config": config_to_dict(config), **about}
    with writing(path):
        path.write_text(json.dumps(payload, indent=2) + "\n")


def extend_saved_config(run_dir: Path, config: Any, saved_total: int) -> None:
    """Rewrite ``run_dir``'s config.json for ``config``'s larger ``total_timesteps``, keeping how the
    run was launched and adding ``saved_total`` to its ``extended_from`` list (the budgets it had)."""
    saved = json.loads((Path(run_dir) / "config.json").read_text())
    about = {key: value for key, value in saved.items() if key not in ("algorithm", "config")}
    about["extended_from"] = [*about.get("extended_from", []), saved_total]
    save_config(config, Path(run_dir) / "config.json", saved["algorithm"], **about)


def load_run_launch(run_dir: Path) -> dict[str, Any]:
    """How a run was launched (``loop``, ``num_seeds``), from its config.json; host/1 for old runs."""
    saved = json.loads((Path(run_dir) / "config.json").read_text())
    return {"loop": saved.get("loop", "host"), "num_seeds": int(saved.get("num_seeds", 1))}
