"""Geometry for small server-rendered SVG charts; templates/inventory/_chart.html draws it.

Pure functions of their inputs, so the scaling is unit-tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

# Stock holds its level until the next movement, so lines are drawn as steps, not slopes.
DAY_STEPS = (1, 2, 7, 14, 30, 61, 91, 182, 365)


@dataclass(frozen=True)
class Tick:
    at: float  # position along its axis, in SVG units
    label: str
    anchor: str = "middle"  # SVG text-anchor: the axis's ends keep their labels inside


@dataclass(frozen=True)
class Line:
    key: str  # CSS modifier: chart-line-<key>
    label: str
    path: str
    first: int
    last: int
    low: int
    high: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    start: datetime
    end: datetime
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]

    @property
    def has_data(self) -> bool:
        return bool(self.lines)

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2

    def line(self, key: str) -> Line | None:
        return next((line for line in self.lines if line.key == key), None)


def nice_scale(maximum: int, ticks: int = 4) -> tuple[int, int]:
    """(step, top): a whole step of 1, 2 or 5 × 10ⁿ giving about `ticks` intervals, and the
    first multiple of it at or above `maximum`, so the axis ends on a labelled tick."""
    maximum = max(int(maximum), 1)
    rough = maximum / ticks
    if rough <= 1:
        step = 1
    else:
        magnitude = 10 ** math.floor(math.log10(rough))
        step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    top = -(-maximum // step) * step
    return int(step), int(top)


def scale(value: float, lo: float, hi: float, out_lo: float, out_hi: float) -> float:
    """Map `value` from [lo, hi] onto [out_lo, out_hi], clamped to that range."""
    if hi == lo:
        return out_lo
    fraction = min(max((value - lo) / (hi - lo), 0.0), 1.0)
    return out_lo + fraction * (out_hi - out_lo)


def short_number(value: int) -> str:
    """Axis labels stay narrow: 1,500 · 25k · 1.5M."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:,}"


def _fmt(n: float) -> str:
    text = f"{n:.1f}"
    return text[:-2] if text.endswith(".0") else text


def step_path(points: Sequence[tuple[float, float]], end_x: float) -> str:
    """SVG path data for a stepped line through `points` (x ascending) held to `end_x`.

    Points that land on the same x collapse to one vertical stroke covering their range,
    so a busy entry's path grows with the chart's width, not with its movements.
    """
    if not points:
        return ""
    x, y = round(points[0][0], 1), round(points[0][1], 1)
    parts = [f"M{_fmt(x)} {_fmt(y)}"]
    i = 1
    while i < len(points):
        bucket_x = round(points[i][0], 1)
        ys = []
        while i < len(points) and round(points[i][0], 1) == bucket_x:
            ys.append(round(points[i][1], 1))
            i += 1
        if all(v == y for v in ys):
            continue
        if bucket_x != x:
            parts.append(f"H{_fmt(bucket_x)}")
            x = bucket_x
        last = ys[-1]
        # One stroke from the old level to the new, stretched to any extremes in between.
        targets = []
        if min(ys) < min(y, last):
            targets.append(min(ys))
        if max(ys) > max(y, last):
            targets.append(max(ys))
        for target in [*targets, last]:
            if target != y:
                parts.append(f"V{_fmt(target)}")
                y = target
    if round(end_x, 1) != x:
        parts.append(f"H{_fmt(round(end_x, 1))}")
    return "".join(parts)


def day_ticks(start: datetime, end: datetime, most: int = 6) -> list[datetime]:
    """Midnights between start and end at a round spacing (days, weeks, then first days of
    months), as many as fit in `most` but never fewer than two when a denser spacing has."""
    previous: list[datetime] = []
    for step in DAY_STEPS:
        ticks = _ticks(start, end, step)
        if len(ticks) <= most:
            return ticks if len(ticks) >= 2 or not previous else previous
        previous = ticks
    return previous


def _ticks(start: datetime, end: datetime, step_days: int) -> list[datetime]:
    out: list[datetime] = []
    if step_days < 28:
        moment = datetime.combine(start.date(), time.min)
        if moment < start:
            moment += timedelta(days=1)
        while moment <= end:
            out.append(moment)
            moment += timedelta(days=step_days)
        return out
    months = max(1, step_days // 30)
    year, month = start.year, start.month
    moment = datetime(year, month, 1)
    if moment < start:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while (moment := datetime(year, month, 1)) <= end:
        out.append(moment)
        total = year * 12 + (month - 1) + months
        year, month = divmod(total, 12)
        month += 1
    return out


def time_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[datetime, int]]]],
    start: datetime,
    end: datetime,
    *,
    width: int = 640,
    height: int = 240,
    margin: tuple[int, int, int, int] = (12, 16, 48, 60),  # top, right, bottom, left
) -> Chart:
    """A chart of (key, label, [(time, value), ...]) lines over [start, end], y from zero.

    Values before `start` are drawn at `start`; each line holds its last value to `end`.
    """
    top_margin, right_margin, bottom_margin, left_margin = margin
    left, right = float(left_margin), float(width - right_margin)
    top, bottom = float(top_margin), float(height - bottom_margin)
    # Stable on time alone: movements sharing a timestamp keep the ledger's order.
    drawn = [
        (key, label, sorted(points, key=lambda p: p[0])) for key, label, points in series if points
    ]
    highest = max((v for _, _, points in drawn for _, v in points), default=0)
    step, y_top = nice_scale(highest)

    def x_of(moment: datetime) -> float:
        return scale(
            (moment - start).total_seconds(), 0, (end - start).total_seconds(), left, right
        )

    def y_of(value: int) -> float:
        return scale(value, 0, y_top, bottom, top)

    lines = [
        Line(
            key=key,
            label=label,
            path=step_path([(x_of(at), y_of(v)) for at, v in points], right),
            first=points[0][1],
            last=points[-1][1],
            low=min(v for _, v in points),
            high=max(v for _, v in points),
        )
        for key, label, points in drawn
    ]
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        start=start,
        end=end,
        x_ticks=_x_ticks(start, end, x_of, most=min(6, max(2, int((right - left) // 80)))),
        y_ticks=[Tick(y_of(v), short_number(v)) for v in range(0, y_top + 1, step)],
        lines=lines,
    )


def _x_ticks(start: datetime, end: datetime, x_of: Callable[[datetime], float], most: int
             ) -> list[Tick]:
    """Midnights along the time axis; a span too short for two of them (a new entry's
    history) is labelled at both ends with the time as well."""
    days = day_ticks(start, end, most=most)
    if len(days) >= 2:
        return [Tick(x_of(d), f"{d.day} {d:%b}") for d in days]
    return [Tick(x_of(d), f"{d.day} {d:%b} {d:%H:%M}", anchor)
            for d, anchor in ((start, "start"), (end, "end"))]


CHART_DAYS = (7, 30, 90)
MIN_SPAN = timedelta(minutes=1)
DEFAULT_CHART_DAYS = 30
# SVG text scales with the drawing, so one drawing can't be legible both on a phone and
# across a desktop: the page carries a wide and a narrow one and CSS shows the one that fits.
CHART_SIZES = {"wide": (1000, 280), "narrow": (400, 260)}


def stock_charts(
    points: Sequence[tuple[datetime, int, int]], start: datetime, end: datetime
) -> dict[str, Chart]:
    """On hand and available from (time, on_hand, available) points (entry_series), drawn
    at each of CHART_SIZES."""
    if points and points[0][0] > start:
        # The history is shorter than the period: the axis starts where it does, not on
        # empty days before the entry existed (a minute at least, so the line has room).
        start = min(points[0][0], end - MIN_SPAN)
    series = [
        ("on-hand", "On hand", [(at, on_hand) for at, on_hand, _ in points]),
        ("available", "Available", [(at, available) for at, _, available in points]),
    ]
    return {
        name: time_chart(series, start, end, width=width, height=height)
        for name, (width, height) in CHART_SIZES.items()
    }
