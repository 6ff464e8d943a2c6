"""``jaxrl envs [GROUP ...] [--preset ALGO]``: the env ids jaxrl trains on, with the algorithms that
have a preset for each (``jaxrl train ALGO --env ID`` then runs a tuned or published config)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from jaxrl.agents.registry import ALGORITHMS
from jaxrl.envs.catalog import GROUP_NAMES, EnvGroup, env_groups

# gymnasium's registry is long (and most of it needs gymnasium's extras): unless it is asked for by
# name, only its ids with a preset are shown.
_SHOWN_IN_FULL_ONLY_BY_NAME = ("gymnasium",)


def add_envs_parser(commands: argparse._SubParsersAction) -> None:
    """The ``envs`` subcommand."""
    envs = commands.add_parser("envs", help="list the env ids jaxrl trains on and the presets each has")
    envs.add_argument("groups", nargs="*", metavar="GROUP",
                      help=f"only these groups: {', '.join(GROUP_NAMES)} (default: all; gymnasium's registry "
                           "in full only when named)")
    envs.add_argument("--preset", choices=list(ALGORITHMS), default=None, metavar="ALGO",
                      help=f"only ids with a preset for ALGO ({', '.join(ALGORITHMS)})")


def presets_of(env_id: str) -> list[str]:
    """The algorithms with a preset for ``env_id`` (jaxrl's own or a suite's published config)."""
    return [name for name, algorithm in ALGORITHMS.items() if algorithm.preset_for(env_id) is not None]


def group_lines(group: EnvGroup, presets: Callable[[str], list[str]], only: str | None, in_full: bool) -> list[str]:
    """One group as text: a heading line, then one line per id (``presets:`` after those that have some)."""
    if group.unavailable is not None:
        return [f"{group.name}: {group.about}", f"  unavailable here: {group.unavailable}"]
    rows = [(env_id, presets(env_id)) for env_id in group.ids]
    shown = [(env_id, names) for env_id, names in rows
             if (only is None or only in names) and (in_full or names)]
    lines = [f"{group.name}: {group.about}"]
    width = max((len(env_id) for env_id, _ in shown), default=0)
    lines += [f"  {env_id:<{width}}  presets: {' '.join(names)}" if names else f"  {env_id}"
              for env_id, names in shown]
    hidden = len(rows) - len(shown)
    if hidden:
        lines.append(f"  ... and {hidden} more without " + (f"a {only} preset" if only else "a preset")
                     + ("" if in_full else f" (`jaxrl envs {group.name}` lists them)"))
    return lines


def list_envs(args: argparse.Namespace) -> None:
    """Print the groups ``args`` asks for."""
    named = tuple(args.groups)
    for index, group in enumerate(env_groups(named)):
        in_full = group.name not in _SHOWN_IN_FULL_ONLY_BY_NAME or group.name in named
        print(("\n" if index else "") + "\n".join(group_lines(group, presets_of, args.preset, in_full)))
