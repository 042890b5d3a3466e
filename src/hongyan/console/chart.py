"""The overview's chart as geometry for an inline SVG: no script, no library.

`layout()` turns the chart's points into coordinates in a `width` × `height`
box: a y scale from 0 to a round top (1, 2, 2.5 or 5 × 10ⁿ a step, four steps),
one x position per bucket, a polyline per series, and at most `max_labels`
x labels. The overview draws it twice, wide (desktop) and narrow (phone),
and the stylesheet shows one: an SVG scaled down to 390 px would shrink its
text below reading size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hongyan.core.overview import Point

SERIES = ("sent", "delivered", "failed")
STEPS = 4


@dataclass(frozen=True, slots=True)
class Axis:
    top: int  # the scale's maximum
    ticks: list[int]  # values, 0 first


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_labels: list[tuple[float, str]]  # (x, text)
    lines: dict[str, str]  # series -> "x,y x,y ..." for <polyline points=...>
    dots: dict[str, list[tuple[float, float, int]]]  # series -> (x, y, value) per point
    empty: bool


def nice_axis(highest: int, steps: int = STEPS) -> Axis:
    """0 to a round top at or above `highest`, in `steps` equal round steps."""
    if highest <= 0:
        return Axis(steps, list(range(steps + 1)))
    raw = highest / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    # 2.5 only where it is whole (25, 250...): counts of messages are whole.
    candidates = (m * magnitude for m in (1, 2, 2.5, 5, 10))
    step = max(1, int(next(c for c in candidates if c >= raw and c == int(c))))
    return Axis(step * steps, [step * i for i in range(steps + 1)])


def layout(
    points: Sequence[Point],
    label: Callable[[int], str],
    *,
    width: int,
    height: int,
    max_labels: int,
) -> Chart:
    """Where everything goes; `label(at_ms)` writes a bucket's x label."""
    # Room on the right for the newest bucket's label, centred on the last point.
    left, right, top, bottom = 44.0, width - 22.0, 12.0, height - 28.0
    values = {name: [getattr(p, name) for p in points] for name in SERIES}
    axis = nice_axis(max((v for vs in values.values() for v in vs), default=0))

    def y(value: int) -> float:
        return round(bottom - (bottom - top) * value / axis.top, 1)

    count = len(points)

    def x(index: int) -> float:
        if count <= 1:
            return round((left + right) / 2, 1)
        return round(left + (right - left) * index / (count - 1), 1)

    every = max(1, math.ceil(count / max_labels))
    # Labelled from the newest bucket back, so "now" always has its label.
    labelled = [i for i in range(count - 1, -1, -every)]
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_ticks=[(y(v), v) for v in axis.ticks],
        x_labels=[(x(i), label(points[i].at_ms)) for i in sorted(labelled)],
        lines={
            name: " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vs))
            for name, vs in values.items()
        },
        dots={name: [(x(i), y(v), v) for i, v in enumerate(vs)] for name, vs in values.items()},
        empty=not any(v for vs in values.values() for v in vs),
    )
