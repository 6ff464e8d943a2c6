"""The lines `jaxrl train` prints after a run: the learning curve in one line, checked by hand."""

import math

from jaxrl.io.run_summary import (
    ASCII_BLOCKS,
    after_run_lines,
    column_means,
    curve_line,
    sparkline,
    unfinished_note,
)

NAN = float("nan")


def test_column_means_average_consecutive_groups_and_skip_nan():
    assert column_means([1, 2, 3, 4], 2) == [1.5, 3.5]
    assert column_means([1, 2, 3, 4], 8) == [1, 2, 3, 4]  # fewer values than columns: one each
    assert column_means([1, 2, 3, 4, 5], 2) == [1.5, 4.0]  # groups [0:2] and [2:5]
    first, second = column_means([NAN, None, 3, NAN], 2)
    assert math.isnan(first) and second == 3


def test_sparkline_maps_lowest_to_highest_linearly():
    assert sparkline([0, 7]) == "▁█"
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([10, 10, 10]) == "▄▄▄"  # flat: the middle height
    assert sparkline([0, NAN, 7]) == "▁ █"
    assert sparkline([NAN, NAN]) == "  "
    assert sparkline([0, 7], blocks=ASCII_BLOCKS) == "_@"
    assert sparkline(list(range(100)), width=4) == "▁▃▆█"  # column means 12, 37, 62, 87


def test_curve_line_reads_first_and_last_finite_returns():
    line = curve_line(99_840, [NAN, 20.0, 500.0], "runs/x")
    assert line == "episodic return 20.0  ▁█ 500.0 over 99,840 env steps (chart: jaxrl plot runs/x)"
    assert curve_line(100, [NAN, 20.0], "r") is None  # one finite return is not a curve
    assert "_@" in curve_line(10, [1.0, 2.0], "r", encoding="ascii")
    assert "▁█" in curve_line(10, [1.0, 2.0], "r", encoding="utf-8")


def test_unfinished_note_names_the_seeds_without_a_return():
    assert unfinished_note([1.0, 2.0], [1, 2], 64) is None
    assert unfinished_note([None], [1], 64).startswith("no episode finished in 64 env steps")
    assert unfinished_note([1.0, NAN], [1, 2], 64).startswith("seed(s) [2]: no episode finished")


def test_after_run_lines_are_the_curve_then_the_note():
    assert after_run_lines("r", 64, [1.0, 2.0], [2.0], [1]) == [curve_line(64, [1.0, 2.0], "r")]
    curve, note = after_run_lines("r", 64, [1.0, 2.0], [2.0, None], [1, 2])
    assert curve.startswith("episodic return 1.0") and note.startswith("seed(s) [2]: no episode finished")
    assert after_run_lines("r", 64, [NAN], [None], [1]) == [unfinished_note([None], [1], 64)]
