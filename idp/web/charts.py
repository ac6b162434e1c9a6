"""Server-rendered SVG charts for the console: no JavaScript, no external assets, nothing inline but SVG.

Every chart has a labelled y axis (ticks at round values and a title), dated x ticks with an axis title, a
legend, and a ``<title>`` on every point or bar, which browsers show on hover ("2026-12-01 · DAU: 3").
Colours and fonts come from classes (``series-0`` …) styled by the console's stylesheet, so the page
needs no inline style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 30, 44
X_TICKS = 6


def nice_step(span: float, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten, at least 1) giving at most ``ticks`` steps over ``span``."""
    if span <= ticks:
        return 1
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    return f"{value:g}"


class _Frame:
    """The plot area: value range [low, high] mapped onto the height, n slots onto the width."""

    def __init__(self, low: float, high: float, count: int, bars: bool) -> None:
        step = nice_step(high - low)
        self.step = step
        self.low = -math.ceil(-low / step) * step if low < 0 else 0
        self.high = max(math.ceil(high / step) * step, self.low + step)
        self.count = count
        self.bars = bars
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + (self.high - value) / (self.high - self.low) * self.plot_h

    def slot(self) -> float:
        return self.plot_w / max(self.count, 1)

    def x(self, index: int) -> float:
        if self.bars:
            return LEFT + (index + 0.5) * self.slot()
        return LEFT + (index * self.plot_w / (self.count - 1) if self.count > 1 else self.plot_w / 2)

    def axes(self, labels: Sequence[str], y_title: str, x_title: str) -> list[str]:
        parts = []
        value = self.low
        while value <= self.high:
            y = self.y(value)
            parts.append(f'<line class="grid{" zero" if value == 0 else ""}" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                         f'y1="{y:.1f}" y2="{y:.1f}"/>')
            parts.append(f'<text class="tick y-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                         f"{_fmt(value)}</text>")
            value += self.step
        every = max(1, math.ceil(len(labels) / X_TICKS))
        for index, label in enumerate(labels):
            if index % every == 0:
                parts.append(f'<text class="tick x-tick" x="{self.x(index):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                             f'text-anchor="middle">{escape(label)}</text>')
        parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
        parts.append(f'<text class="axis-title y-title" x="14" y="{TOP + self.plot_h / 2:.1f}" '
                     f'transform="rotate(-90 14 {TOP + self.plot_h / 2:.1f})" text-anchor="middle">'
                     f"{escape(y_title)}</text>")
        parts.append(f'<text class="axis-title x-title" x="{LEFT + self.plot_w / 2:.1f}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle">{escape(x_title)}</text>')
        return parts


def _legend(names: Sequence[str]) -> list[str]:
    parts = []
    for j, name in enumerate(names):
        x = LEFT + 110 * j
        parts.append(f'<rect class="series-{j} swatch" x="{x}" y="8" width="10" height="10"/>'
                     f'<text class="legend" x="{x + 14}" y="17">{escape(name)}</text>')
    return parts


def _open(kind: str, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'class="chart chart-{kind}" aria-label="{escape(title)}"><title>{escape(title)}</title>')


def lines(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str = "",
          y_title: str = "accounts", x_title: str = "day (UTC)") -> str:
    """A line per series over the same x labels, a dot with a hover title on every point."""
    top = max([*(max(values, default=0) for values in series.values()), 0])
    frame = _Frame(0, top, len(labels), bars=False)
    parts = [_open("lines", title or ", ".join(series)), *frame.axes(labels, y_title, x_title),
             *_legend(list(series))]
    for j, (name, values) in enumerate(series.items()):
        points = [(frame.x(i), frame.y(v)) for i, v in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="series-{j} line" fill="none" points="{path}"/>')
        for (x, y), label, value in zip(points, labels, values, strict=False):
            parts.append(f'<circle class="series-{j} point" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                         f"<title>{escape(label)} · {escape(name)}: {_fmt(value)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def stacked(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str = "",
            y_title: str = "accounts", x_title: str = "week starting (UTC)") -> str:
    """Stacked bars, positive values above zero and negative ones below (lifecycle: new, returning and
    resurrecting up, dormant down). The range reaches below zero only as far as the data does, so a chart
    without negative values has no empty lower half."""
    count = len(labels)
    ups = [sum(max(0.0, s[i]) for s in series.values()) for i in range(count)]
    downs = [sum(min(0.0, s[i]) for s in series.values()) for i in range(count)]
    frame = _Frame(min([*downs, 0]), max([*ups, 0]), count, bars=True)
    parts = [_open("bars", title or ", ".join(series)), *frame.axes(labels, y_title, x_title),
             *_legend(list(series))]
    width = max(frame.slot() - 6, 2)
    for i, label in enumerate(labels):
        above, below = 0.0, 0.0
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            if value == 0:
                continue
            if value > 0:
                y0, y1 = frame.y(above + value), frame.y(above)
                above += value
            else:
                y0, y1 = frame.y(below), frame.y(below + value)
                below += value
            parts.append(f'<rect class="series-{j} bar" x="{frame.x(i) - width / 2:.1f}" y="{y0:.1f}" '
                         f'width="{width:.1f}" height="{max(y1 - y0, 0.5):.1f}">'
                         f"<title>{escape(label)} · {escape(name)}: {_fmt(value)}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)
