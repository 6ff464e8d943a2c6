"""The CLI's flags: one per config field (its help the field's comment and the value that runs for
the chosen ``--env``), and the flags that say where and how wide a run goes."""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any

from jaxrl.config import field_docs

_NONE_WORDS = ("none", "null")


def optional_of(hint: Any) -> tuple[Any, bool]:
    """``float | None`` -> ``(float, True)``; anything else -> ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def whole_number(text: str) -> int:
    """``int(text)``, also from scientific notation that names a whole number (``1e6``, as step counts
    are often written); ``ValueError`` otherwise (``3.5``, ``1e400``)."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise
        return int(value)


def scalar_parser(kind: type, optional: bool, flag: str):
    """argparse's ``type`` for a scalar field: ``kind(text)``, ``none``/``null`` where the field is
    optional, and a one-line error naming ``flag`` for text that is not a ``kind`` or is NaN."""
    def parse(text: str):
        if optional and text.lower() in _NONE_WORDS:
            return None
        try:
            value = whole_number(text) if kind is int else kind(text)
        except ValueError:
            hint = f" (separate values with spaces: {text.replace(',', ' ')})" if "," in text else ""
            raise argparse.ArgumentTypeError(f"{flag} expects {kind.__name__}, got {text!r}{hint}") from None
        if isinstance(value, float) and math.isnan(value):
            raise argparse.ArgumentTypeError(f"{flag} must not be NaN")
        return value

    parse.__name__ = kind.__name__
    return parse


def shown_value(value: Any) -> str:
    """A default as a user would type it: ``1.41421`` rather than ``1.4142135623730951``, ``64 64``
    rather than ``(64, 64)``."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        return " ".join(shown_value(item) for item in value) or "empty"
    return "none" if value is None else str(value)


def add_config_flags(parser: argparse.ArgumentParser, config_cls: type, preset: Any = None) -> None:
    """One flag per field, its help the field's comment and the value that runs: ``preset``'s (the
    env's preset config) where it differs from the dataclass default. Defaults are suppressed so only
    given flags reach the config."""
    hints = typing.get_type_hints(config_cls)
    docs = field_docs(config_cls)
    for field in dataclasses.fields(config_cls):
        flag = "--" + field.name.replace("_", "-")
        kind, optional = optional_of(hints[field.name])
        default = field.default
        shown = f"default: {shown_value(default)}"
        if preset is not None and field.name != "env" and getattr(preset, field.name) != default:
            shown = f"{preset.env} preset: {shown_value(getattr(preset, field.name))}; without it {shown_value(default)}"
        help_text = f"{docs.get(field.name, '')} ({shown}{'; none to unset' if optional else ''})"
        help_text = help_text.replace("%", "%%")  # argparse formats help with %: a field comment's "2%" is text
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, nargs="+", type=scalar_parser(item, False, flag), default=argparse.SUPPRESS,
                                help=help_text)
        else:
            parser.add_argument(flag, type=scalar_parser(kind, optional, flag), default=argparse.SUPPRESS,
                                help=help_text)


def positive_int(flag: str):
    def parse(text: str) -> int:
        value = scalar_parser(int, False, flag)(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be >= 1, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def add_scale_flags(parser: argparse.ArgumentParser) -> None:
    """Where and how wide a run goes: loop, seeds, devices and processes."""
    group = parser.add_argument_group("loop, seeds, devices and processes")
    group.add_argument("--loop", choices=("host", "device"), default=None,
                       help="host: gymnasium vector envs on the CPU; device: a JAX env inside one jit "
                            "(default: device for the JAX suites' ids, phys2d/, gymnax/, brax/, playground/; "
                            "host otherwise)")
    group.add_argument("--num-seeds", type=positive_int("--num-seeds"), default=None,
                       help="device loop: seeds seed..seed+N-1 trained at once with jit(vmap(train))")
    group.add_argument("--sweep", action="append", default=None, metavar="FIELD=V1,V2,...",
                       help="device loop: train every value (a grid when repeated) x --num-seeds seeds in one compiled "
                            "call; writes a run per point, sweep.md (mean, IQM and its 95%% bootstrap CI of the "
                            "final returns) and sweep.png")
    group.add_argument("--devices", type=positive_int("--devices"), default=None,
                       help="split the envs over the first N devices JAX sees (default: one device)")
    group.add_argument("--coordinator", default=None,
                       help="multi-process run: host:port of process 0 (or $JAXRL_COORDINATOR)")
    group.add_argument("--num-processes", type=positive_int("--num-processes"), default=None,
                       help="multi-process run: number of processes (or $JAXRL_NUM_PROCESSES)")
    group.add_argument("--process-id", type=int, default=None,
                       help="multi-process run: this process's index (or $JAXRL_PROCESS_ID)")


def env_in(argv: list[str]) -> str | None:
    """The value of ``--env`` in ``argv`` (for help that shows that env's preset), if any."""
    for index, token in enumerate(argv):
        if token.startswith("--env="):
            return token.split("=", 1)[1]
        if token == "--env" and index + 1 < len(argv):
            return argv[index + 1]
    return None
