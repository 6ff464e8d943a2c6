"""The report's MinAtar table: each library's side of the peer comparisons on gymnax MinAtar
(``peer_rejax_minatar_ppo``, ``peer_rejax_pqn``, ``peer_purejaxql_pqn`` result files)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np

# Learning comparisons on gymnax MinAtar, each library with one published config: the benchmark that wrote
# the file, and what it compares.
MINATAR_PEERS = {"peer_rejax_minatar_ppo": "PPO, gymnax's published config", "peer_rejax_pqn": "PQN, one shared config",
                 "peer_purejaxql_pqn": "PQN, purejaxql's published config"}


def _library_figures(side: Any) -> tuple[list[float], list[float], list[float]]:
    """``(evaluation returns, SPS, compile s)`` of one library's side in either file layout: seeds vmapped in
    one run (a dict of lists) or one entry per seed."""
    if isinstance(side, dict):
        return list(side.get("eval_returns", [])), [side.get("sps", np.nan)], [side.get("compile_s", np.nan)]
    return ([seed["eval_return"] for seed in side], [seed["sps"] for seed in side],
            [seed["compile_s"] for seed in side])


def value_span(values: list[float], fmt: str) -> str:
    """``"low-high"`` of ``values`` in ``fmt``, or one number where both read the same."""
    return "-".join(dict.fromkeys(format(value, fmt) for value in (min(values), max(values))))


def newest_per_key(results: list[tuple[Path, dict[str, Any]]],
                   key: Callable[[Path, dict[str, Any]], Hashable | None]) -> dict[Any, dict[str, Any]]:
    """``key -> content`` of the newest result file (by its ``date``) per ``key(path, content)``; files whose
    key is ``None`` are left out."""
    newest: dict[Any, dict[str, Any]] = {}
    for path, data in results:
        cell = key(path, data)
        if cell is not None and (cell not in newest or data.get("date", "") > newest[cell].get("date", "")):
            newest[cell] = data
    return newest


def minatar_peer_table(results: list[tuple[Path, dict[str, Any]]]) -> str:
    """One line per library of the newest file of each MinAtar peer benchmark, device and run length;
    ``results``: each result file's path and parsed content."""
    def comparison(path: Path, data: dict[str, Any]) -> tuple[str, str, int] | None:
        benchmark = path.name.split("__")[0]
        if benchmark not in MINATAR_PEERS:
            return None
        return benchmark, data.get("device_kind", "?"), data.get("config", {}).get("total_timesteps", 0)

    newest = newest_per_key(results, comparison)
    if not newest:
        return ""
    lines = ["| comparison | env, steps per seed | device | library | evaluation per seed | SPS | compile s | date |",
             "|" + "---|" * 8]
    for (benchmark, device, _), data in sorted(newest.items()):
        steps = data.get("config", {}).get("total_timesteps", 0)
        for library, side in data["rows"].items():
            if "error" in side:
                continue
            returns, sps, compile_s = _library_figures(side)
            lines.append(f"| {MINATAR_PEERS[benchmark]} | {data['env']}, {steps:,} | {device} | {library} "
                         f"| {' / '.join(f'{r:.1f}' for r in returns)} | {value_span(sps, ',.0f')} "
                         f"| {value_span(compile_s, '.1f')} | {data.get('date', '')[:10]} |")
    return "\n".join(lines)
