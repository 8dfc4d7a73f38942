"""The chart geometry: scales, ticks and stepped paths, with no database or browser."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.web.charts import (
    CHART_SIZES,
    day_ticks,
    nice_scale,
    scale,
    short_number,
    step_path,
    stock_charts,
    time_chart,
)

START = datetime(2026, 10, 26, 12, 0)
END = START + timedelta(days=30)


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (0, (1, 1)),
        (1, (1, 1)),
        (3, (1, 3)),
        (4, (1, 4)),
        (7, (2, 8)),
        (10, (5, 10)),
        (47, (20, 60)),
        (100, (50, 100)),
        (101, (50, 150)),
        (1_000_000_000, (500_000_000, 1_000_000_000)),
    ],
)
def test_nice_scale_ends_the_axis_on_a_round_step_at_or_above_the_maximum(maximum, expected):
    step, top = nice_scale(maximum)
    assert (step, top) == expected
    assert top >= maximum and top % step == 0
    assert str(step).strip("0") in ("1", "2", "5")


def test_scale_maps_the_domain_onto_the_range_and_clamps_outside_it():
    assert scale(0, 0, 10, 200, 20) == 200  # zero sits on the bottom edge (SVG y grows down)
    assert scale(10, 0, 10, 200, 20) == 20
    assert scale(5, 0, 10, 200, 20) == 110
    assert scale(-3, 0, 10, 200, 20) == 200
    assert scale(99, 0, 10, 200, 20) == 20
    assert scale(7, 4, 4, 50, 90) == 50  # an empty domain can't divide by zero


def test_step_path_holds_each_level_until_the_next_change_and_to_the_end():
    path = step_path([(10, 100), (30, 50), (60, 80)], 90)
    assert path == "M10 100H30V50H60V80H90"


def test_step_path_skips_points_that_do_not_change_the_level():
    assert step_path([(10, 100), (20, 100), (40, 60)], 50) == "M10 100H40V60H50"


def test_step_path_collapses_points_on_the_same_x_to_one_stroke_over_their_range():
    busy = [(10.0, 100.0)] + [(20.02, 100.0 - (i % 7) * 10) for i in range(1, 500)]
    # From 100 down to the lowest value (40), then to the last one (499 % 7 == 2, so 80).
    assert step_path(busy, 30) == "M10 100H20V40V80H30"


def test_step_path_stretches_a_stroke_to_extremes_on_both_sides():
    assert step_path([(10, 50), (20, 90), (20, 10), (20, 60)], 30) == "M10 50H20V10V90V60H30"


def test_step_path_of_nothing_is_empty():
    assert step_path([], 100) == ""


def test_time_chart_scales_time_across_the_width_and_units_up_from_zero():
    mid = START + timedelta(days=15)
    chart = time_chart([("q", "Q", [(START, 0), (mid, 10)])], START, END,
                       width=400, height=200, margin=(10, 20, 30, 40))
    assert (chart.left, chart.right, chart.top, chart.bottom) == (40, 380, 10, 170)
    (line,) = chart.lines
    # 0 on the bottom edge at the start, 10 (the axis top) halfway across, held to the end.
    assert line.path == "M40 170H210V10H380"
    assert (line.first, line.last, line.low, line.high) == (0, 10, 0, 10)
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10"]
    assert [t.at for t in chart.y_ticks] == [170, 90, 10]


def test_time_chart_draws_earlier_points_at_the_left_edge():
    before = START - timedelta(days=5)
    chart = time_chart([("q", "Q", [(before, 4), (START + timedelta(days=3), 2)])],
                       START, END, width=400, height=200, margin=(10, 20, 30, 40))
    assert chart.lines[0].path.startswith("M40 ")


def test_time_chart_keeps_the_ledger_order_of_points_sharing_a_timestamp():
    at = START + timedelta(days=1)
    chart = time_chart([("q", "Q", [(at, 9), (at, 3)])], START, END,
                       width=400, height=200, margin=(10, 20, 30, 40))
    assert chart.lines[0].last == 3


def test_time_chart_without_points_has_axes_but_no_lines():
    chart = time_chart([("q", "Q", [])], START, END)
    assert not chart.has_data
    assert chart.line("q") is None
    assert [t.label for t in chart.y_ticks] == ["0", "1"]
    assert chart.x_ticks


def test_x_ticks_fall_on_midnights_inside_the_window_and_are_labelled_by_day():
    chart = time_chart([("q", "Q", [(START, 1)])], START, END, width=1000)
    labels = [t.label for t in chart.x_ticks]
    assert labels == ["27 Oct", "3 Nov", "10 Nov", "17 Nov", "24 Nov"]
    positions = [t.at for t in chart.x_ticks]
    assert positions == sorted(positions)
    assert chart.left <= positions[0] and positions[-1] <= chart.right


def test_day_ticks_thin_out_to_fit_and_use_months_for_long_spans():
    assert len(day_ticks(START, END, most=6)) == 5
    assert len(day_ticks(START, END, most=3)) == 3
    ninety = day_ticks(END - timedelta(days=90), END, most=6)
    assert [d.day for d in ninety] == [1, 1, 1]
    assert all(d.hour == 0 and d.minute == 0 for d in ninety)
    # Never a lone tick when a denser spacing can give two or more.
    week = day_ticks(END - timedelta(days=7), END, most=3)
    assert len(week) >= 2


def test_short_number_keeps_axis_labels_narrow():
    assert [short_number(v) for v in (0, 950, 1_500, 25_000, 1_500_000)] == [
        "0", "950", "1,500", "25k", "1.5M",
    ]


def test_stock_charts_draws_on_hand_and_available_at_every_size():
    points = [(START + timedelta(days=1), 10, 10), (START + timedelta(days=2), 10, 6),
              (START + timedelta(days=3), 8, 6)]
    charts = stock_charts(points, START, END)
    assert set(charts) == set(CHART_SIZES)
    for name, chart in charts.items():
        assert (chart.width, chart.height) == CHART_SIZES[name]
        on_hand, available = chart.line("on-hand"), chart.line("available")
        assert on_hand is not None and available is not None
        assert (on_hand.low, on_hand.high, on_hand.last) == (8, 10, 8)
        assert (available.low, available.high, available.last) == (6, 10, 6)


def test_a_history_shorter_than_the_period_starts_the_axis_at_its_first_movement():
    first = START + timedelta(days=20, hours=5)
    charts = stock_charts([(first, 4, 4), (first + timedelta(days=2), 9, 7)], START, END)
    for chart in charts.values():
        assert chart.start == first and chart.end == END
        assert chart.line("on-hand").path.startswith(f"M{chart.left:g} ")
        assert all(chart.left <= t.at <= chart.right for t in chart.x_ticks)
    # A history that reaches back past the period keeps the whole period.
    assert stock_charts([(START, 4, 4)], START, END)["wide"].start == START
    # Without movements there is nothing to start from.
    assert stock_charts([], START, END)["wide"].start == START


def test_a_history_of_minutes_is_labelled_with_times_at_both_ends_inside_the_axis():
    first = END - timedelta(minutes=5)
    chart = stock_charts([(first, 4, 4)], START, END)["wide"]
    assert chart.start == first
    assert [(t.at, t.label, t.anchor) for t in chart.x_ticks] == [
        (chart.left, f"{first.day} {first:%b %H:%M}", "start"),
        (chart.right, f"{END.day} {END:%b %H:%M}", "end"),
    ]
    # Seconds of history still get a minute of axis.
    moments = stock_charts([(END - timedelta(seconds=5), 4, 4)], START, END)["wide"]
    assert moments.start == END - timedelta(minutes=1)
