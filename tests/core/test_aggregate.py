import numpy as np
import pytest

from jaxrl.core.aggregate import bootstrap_interval, interquartile_mean, summarize_returns


def test_interquartile_mean_by_hand():
    # 8 values: the 2 lowest and 2 highest are dropped, the middle 4 averaged
    assert interquartile_mean([100, 1, 2, 3, 4, 5, 6, -100]) == pytest.approx((2 + 3 + 4 + 5) / 4)
    assert interquartile_mean([1.0, 2.0, 9.0]) == pytest.approx(4.0)  # n < 4: nothing to trim
    values = np.random.default_rng(0).normal(size=41)  # agrees with scipy.stats.trim_mean(values, 0.25)
    ordered = np.sort(values)
    assert interquartile_mean(values) == pytest.approx(ordered[10:31].mean())


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_runs():
    rng = np.random.default_rng(1)
    few, many = rng.normal(10, 2, size=8), rng.normal(10, 2, size=200)
    low, high = bootstrap_interval(few)
    assert low <= interquartile_mean(few) <= high
    low_many, high_many = bootstrap_interval(many)
    assert high_many - low_many < high - low
    assert bootstrap_interval(np.full(5, 3.0)) == (3.0, 3.0)  # no spread, no interval


def test_summary_skips_seeds_without_a_finished_episode():
    summary = summarize_returns(np.array([1.0, np.nan, 3.0, 5.0]))
    assert summary["seeds_finished"] == 3 and summary["mean"] == pytest.approx(3.0)
    assert summarize_returns(np.array([np.nan]))["iqm"] is None
