"""Aggregates of final returns over seeds: the interquartile mean and a bootstrap confidence
interval, as rliable (Agarwal et al., 2021) recommends for few runs. NumPy only."""

from __future__ import annotations

import numpy as np


def interquartile_mean(values: np.ndarray) -> float:
    """Mean of the middle 50%: ``floor(n / 4)`` values dropped at each end of the sorted ``values [n]``
    (scipy's ``trim_mean(values, 0.25)``); the plain mean for n < 4."""
    ordered = np.sort(np.asarray(values, np.float64))
    cut = len(ordered) // 4
    return float(np.mean(ordered[cut: len(ordered) - cut]))


def bootstrap_interval(values: np.ndarray, statistic=interquartile_mean, confidence: float = 0.95,
                       resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values [n]`` (runs resampled with
    replacement ``resamples`` times)."""
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(resamples, len(values)))
    estimates = np.array([statistic(values[row]) for row in draws])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def summarize_returns(returns: np.ndarray) -> dict[str, float | int | list[float] | None]:
    """``{"mean", "std", "iqm", "iqm_ci": [low, high], "seeds_finished"}`` of final returns ``[n]``;
    seeds without a finished episode (NaN) are left out and counted."""
    finite = np.asarray(returns, np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return {"mean": None, "std": None, "iqm": None, "iqm_ci": None, "seeds_finished": 0}
    return {"mean": float(finite.mean()), "std": float(finite.std()), "iqm": interquartile_mean(finite),
            "iqm_ci": list(bootstrap_interval(finite)), "seeds_finished": len(finite)}
