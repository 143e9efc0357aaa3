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


def test_step_chart_holds_each_level_on_a_fixed_scale():
    from tierwise.reports._charts import step_chart

    svg = _parse(step_chart([3, 3, 2, None, 0], title="tier"))
    assert svg.get("data-values") == "3 3 2  0"
    d = svg.find(f"{SVG}path").get("d")
    # two runs (the gap breaks the line): M, H/V steps, then a fresh M for the last month
    assert d.count("M") == 2 and d.count("H") == 2
    ys = [float(line.get("y1")) for line in svg.iter(f"{SVG}line")]
    assert len(ys) == 4 and ys == sorted(ys, reverse=True)  # level 0 at the bottom
    dot = svg.find(f"{SVG}circle")
    assert float(dot.get("cy")) == ys[0]  # the last value, 0, sits on the bottom line
    # the scale does not follow the data: a client always Premier is drawn at the top line
    top = _parse(step_chart([3, 3], title="t")).find(f"{SVG}circle")
    assert float(top.get("cy")) == ys[-1]


def test_step_chart_of_nothing_is_valid_svg():
    from tierwise.reports._charts import step_chart

    svg = _parse(step_chart([None, None], title="<none>"))
    assert svg.find(f"{SVG}path") is None and svg.find(f"{SVG}circle") is None
