"""The console's SVG charts: labelled axes, a hover title per point, and no empty half below zero."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from idp.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def _ticks(svg: str, axis: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML
    return [t.text or "" for t in root.iter(f"{SVG}text") if f"{axis}-tick" in t.get("class", "")]


def test_nice_steps() -> None:
    assert [charts.nice_step(span) for span in (0, 3, 4, 7, 10, 37, 180, 9000)] == [1, 1, 1, 2, 5, 10, 50, 5000]


def test_lines_have_axes_titles_and_a_hover_title_per_point() -> None:
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    svg = charts.lines(days, {"DAU": list(range(30)), "MAU": [40] * 30}, y_title="active accounts")
    assert _ticks(svg, "y") == ["0", "10", "20", "30", "40"]
    x_ticks = _ticks(svg, "x")
    assert x_ticks[0] == "2026-11-01" and 3 <= len(x_ticks) <= charts.X_TICKS and set(x_ticks) <= set(days)
    assert ">active accounts</text>" in svg and ">day (UTC)</text>" in svg
    titles = re.findall(r"<circle[^>]*><title>([^<]*)</title>", svg)
    assert len(titles) == 60 and "2026-11-30 · DAU: 29" in titles and "2026-11-01 · MAU: 40" in titles
    assert "style=" not in svg


def test_stacked_without_negative_values_has_no_lower_half() -> None:
    weeks = ["2026-11-02", "2026-11-09", "2026-11-16"]
    svg = charts.stacked(weeks, {"new": [3, 0, 1], "returning": [0, 2, 2], "dormant": [0, 0, 0]})
    assert _ticks(svg, "y")[0] == "0" and not any(t.startswith("-") for t in _ticks(svg, "y"))
    root = ET.fromstring(svg)
    zero = [line for line in root.iter(f"{SVG}line") if "zero" in line.get("class", "")]
    bottom = charts.HEIGHT - charts.BOTTOM
    assert len(zero) == 1 and float(zero[0].get("y1", "0")) == bottom  # zero is the bottom of the plot
    bars = re.findall(r"<title>([^<]*)</title></rect>", svg)
    assert bars == ["2026-11-02 · new: 3", "2026-11-09 · returning: 2", "2026-11-16 · new: 1",
                    "2026-11-16 · returning: 2"]


def test_stacked_reaches_below_zero_as_far_as_the_data() -> None:
    svg = charts.stacked(["a", "b"], {"new": [10, 8], "dormant": [0, -2]})
    ticks = _ticks(svg, "y")
    assert ticks[0] == "-5" and ticks[-1] == "10"  # -2 rounds to one step below zero, not to -10
    root = ET.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "")]
    dormant = [r for r in rects if "series-1" in r.get("class", "")]
    assert len(dormant) == 1 and dormant[0].find(f"{SVG}title").text == "b · dormant: -2"  # type: ignore[union-attr]


def test_empty_and_escaped() -> None:
    assert ET.fromstring(charts.lines([], {"DAU": []})) is not None
    svg = charts.stacked(["<w>"], {"a&b": [1]})
    assert "&lt;w&gt;" in svg and "a&amp;b" in svg
    assert ET.fromstring(svg) is not None
