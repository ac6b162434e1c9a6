"""Small inline SVG charts for the dashboard (no JavaScript, no external assets)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 28
COLOURS = ("#d99a00", "#3b6fd8", "#2a9d6b", "#c0392b")


def _scale(values: Sequence[float], top: float) -> list[float]:
    usable = HEIGHT - 2 * PAD
    return [HEIGHT - PAD - (v / top) * usable if top else HEIGHT - PAD for v in values]


def lines(labels: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """A line per series over the same x labels."""
    top = max([max(v, default=0) for v in series.values()] + [1])
    n = max(len(labels), 2)
    xs = [PAD + i * (WIDTH - 2 * PAD) / (n - 1) for i in range(len(labels))]
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
             f'<text x="{PAD}" y="14" class="axis">max {top:g}</text>']
    for i, (name, values) in enumerate(series.items()):
        ys = _scale(values, top)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{WIDTH - PAD - 60 * (len(series) - i)}" y="14" fill="{colour}">{escape(name)}</text>')
    if labels:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="axis">{escape(labels[0])}</text>')
        parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end" class="axis">'
                     f"{escape(labels[-1])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def stacked(labels: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """Bars above and below zero (lifecycle: new/returning/resurrecting up, dormant down)."""
    ups = [sum(max(0.0, s[i]) for s in series.values()) for i in range(len(labels))]
    downs = [sum(-min(0.0, s[i]) for s in series.values()) for i in range(len(labels))]
    top = max(ups + downs + [1])
    mid = HEIGHT / 2
    scale = (HEIGHT / 2 - PAD) / top
    width = (WIDTH - 2 * PAD) / max(len(labels), 1)
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
             f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{mid}" y2="{mid}" stroke="#ccc"/>']
    for i in range(len(labels)):
        x = PAD + i * width
        above, below = mid, mid
        for j, values in enumerate(series.values()):
            v = values[i]
            h = abs(v) * scale
            colour = COLOURS[j % len(COLOURS)]
            if v >= 0:
                above -= h
                parts.append(f'<rect x="{x + 2:.1f}" y="{above:.1f}" width="{width - 4:.1f}" height="{h:.1f}" '
                             f'fill="{colour}"><title>{escape(labels[i])}: {v:g}</title></rect>')
            else:
                parts.append(f'<rect x="{x + 2:.1f}" y="{below:.1f}" width="{width - 4:.1f}" height="{h:.1f}" '
                             f'fill="{colour}"><title>{escape(labels[i])}: {v:g}</title></rect>')
                below += h
    for j, name in enumerate(series):
        parts.append(f'<text x="{PAD + 110 * j}" y="14" fill="{COLOURS[j % len(COLOURS)]}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
