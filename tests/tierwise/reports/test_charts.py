"""Inline SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tierwise.reports._charts import bar_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_sparkline_skips_missing_values_and_marks_the_last():
    svg = _parse(sparkline([1.0, None, 3.0, 2.0], title="t"))
    points = svg.find(f"{SVG}polyline").get("points").split()
    assert len(points) == 3
    dot = svg.find(f"{SVG}circle")
    assert f"{dot.get('cx')},{dot.get('cy')}" == points[-1]


def test_sparkline_of_nothing_or_constants_is_valid_svg():
    assert _parse(sparkline([], title="empty")).find(f"{SVG}polyline") is None
    ys = {p.split(",")[1] for p in _parse(sparkline([5.0, 5.0, 5.0], title="flat")).find(f"{SVG}polyline").get("points").split()}
    assert len(ys) == 1


def test_bar_chart_escapes_labels():
    markup = str(bar_chart(["<b>x</b>", "y"], [0.5, 0.25], title="a & b"))
    assert "<b>" not in markup and "&lt;b&gt;" in markup
    widths = [float(r.get("width")) for r in _parse(markup).iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
