"""The report's time-to-solve table: ``benchmarks/time_to_solve.py`` result files, each row label's newest
run per device and task, its wall-clock to a saved agent against the peers' medians of the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from report_minatar import value_span

# A row of a time-to-solve file whose name starts so is a peer's; the table gives every row's speed-up on it.
PEERS = {"Stable-Baselines3": ("Stable-Baselines3", "sb3-"), "rejax": ("rejax",)}


def _row_name(row: dict[str, Any]) -> str:
    """A row's label: CartPole files name it ``row``, Pendulum files ``algorithm``."""
    return row.get("row") or row.get("algorithm") or "?"


def _solved(row: dict[str, Any]) -> tuple[int, int]:
    """``(runs solved, runs)`` of one row: ``solved`` is a bool (one run) or ``"k/n"`` (``n`` seeds)."""
    solved = row.get("solved")
    if isinstance(solved, str) and "/" in solved:
        done, total = solved.split("/")
        return int(done), int(total)
    return int(bool(solved)), 1


def _task(data: dict[str, Any]) -> str:
    """The file's task with its bar: ``cartpole (>= 475)``; files from before ``task`` was written are
    Pendulum's."""
    return f"{data.get('task', 'pendulum')} (>= {data.get('bar', float('nan')):g})"


def _grouped_rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A file's timed rows (one per seed, or one per vmapped run) grouped by label, in file order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in [*data.get("rows", []), *data.get("other_rows", [])]:
        if "wall_s" in row:
            groups.setdefault(_row_name(row), []).append(row)
    return groups


def _peer_medians(groups: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """``peer -> median wall-clock`` of the peers' rows in one run."""
    medians = {}
    for peer, prefixes in PEERS.items():
        walls = [row["wall_s"] for name, rows in groups.items() if name.startswith(prefixes) for row in rows]
        if walls:
            medians[peer] = float(np.median(walls))
    return medians


def _newest_rows(results: list[tuple[Path, dict[str, Any]]]) -> dict[tuple[str, str], dict[str, tuple]]:
    """``(device, task) -> label -> (rows, peer medians, date)``: each row label's rows from the newest
    file that has it (a later run of one agent replaces that agent's rows, not the others'), with the
    peers' medians of that same run."""
    tables: dict[tuple[str, str], dict[str, tuple]] = {}
    files = [(path, data) for path, data in results
             if data.get("benchmark") == "time_to_solve" and path.name.startswith("time_to_solve__")]
    for _, data in sorted(files, key=lambda item: item[1].get("date", "")):
        groups = _grouped_rows(data)
        peer_medians = _peer_medians(groups)
        table = tables.setdefault((data.get("device_kind", "?"), _task(data)), {})
        for name, rows in groups.items():
            table[name] = (rows, peer_medians, data.get("date", "")[:10])
    return tables


def time_to_solve_table(results: list[tuple[Path, dict[str, Any]]]) -> str:
    """One line per row label and device and task, from the newest ``time_to_solve`` file that has it;
    ``results``: each result file's path and parsed content. Empty when there is none."""
    tables = _newest_rows(results)
    if not tables:
        return ""
    lines = ["| task (bar) | device | what | runs | wall-clock s | median s | solved | "
             + " | ".join(f"{peer}'s median / this" for peer in PEERS) + " | date |", "|" + "---|" * (8 + len(PEERS))]
    for (device, task), table in sorted(tables.items()):
        for name, (rows, peer_medians, date) in sorted(table.items()):  # an agent's rows together
            walls = [row["wall_s"] for row in rows]
            median = float(np.median(walls))
            solved = [_solved(row) for row in rows]
            one_seed_runs = all(total == 1 for _, total in solved)  # a vmapped run's time is all its seeds'
            ratios = [f"{peer_medians[peer] / median:.1f}x" if peer in peer_medians and one_seed_runs else "-"
                      for peer in PEERS]
            lines.append(f"| {task} | {device} | {name} | {len(rows)} | {value_span(walls, '.1f')} "
                         f"| {median:.1f} | {sum(d for d, _ in solved)}/{sum(n for _, n in solved)} "
                         f"| {' | '.join(ratios)} | {date} |")
    return "\n".join(lines)
