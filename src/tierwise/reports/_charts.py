"""Tiny inline SVG charts (sparklines, bars): no scripts, no fonts, nothing external."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape


def _finite(values: Sequence[float | None]) -> list[tuple[int, float]]:
    return [(i, float(v)) for i, v in enumerate(values)
            if v is not None and isinstance(v, int | float) and math.isfinite(v)]


def sparkline(values: Sequence[float | None], *, title: str, width: int = 110, height: int = 28,
              color: str = "#1f5fa8") -> Markup:
    """A line through `values` (gaps for missing ones) with a dot on the last value."""
    points = _finite(values)
    label = escape(title)
    if not points:
        return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img" '
                      f'aria-label="{label}"><title>{label}</title></svg>')
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    pad = 3

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / n if len(values) > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * ((v - lo) / span if hi > lo else 0.5)
        return round(x, 1), round(y, 1)

    path = " ".join(f"{x},{y}" for x, y in (xy(i, v) for i, v in points))
    last_x, last_y = xy(*points[-1])
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2.2" fill="{color}"/></svg>'
    )



def step_chart(values: Sequence[float | None], *, title: str, levels: int = 4, width: int = 110,
               height: int = 28, color: str = "#2b2d42") -> Markup:
    """Steps through `values` on the fixed scale 0 .. `levels` - 1 (a tier rank: 0 General ...
    3 Premier), each value held until the next one; a gap where a value is missing, a faint line
    per level and a dot on the last value. `data-values` carries the values shown ('' for gaps)."""
    label = escape(title)
    shown = " ".join("" if v is None else f"{float(v):g}" for v in values)
    pad = 3
    top = max(levels - 1, 1)
    n = max(len(values) - 1, 1)

    def x(i: int) -> float:
        return round(pad + (width - 2 * pad) * (i / n if len(values) > 1 else 0.5), 1)

    def y(v: float) -> float:
        return round(height - pad - (height - 2 * pad) * min(max(v, 0.0), top) / top, 1)

    grid = "".join(f'<line x1="{pad}" x2="{width - pad}" y1="{y(k)}" y2="{y(k)}" stroke="#e3e7ee" '
                   f'stroke-width="1"/>' for k in range(levels))
    points = dict(_finite(values))
    path: list[str] = []
    for i, v in points.items():
        if i - 1 in points:
            path.append(f"H{x(i)} V{y(v)}")
        else:
            path.append(f"M{x(i)},{y(v)}")
    line = f'<path fill="none" stroke="{color}" stroke-width="1.5" d="{" ".join(path)}"/>' if path else ""
    dot = ""
    if points:
        last = max(points)
        dot = f'<circle cx="{x(last)}" cy="{y(points[last])}" r="2.2" fill="{color}"/>'
    return Markup(
        f'<svg class="spark steps" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}" data-values="{shown}"><title>{label}</title>{grid}{line}{dot}</svg>'
    )

def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, width: int = 360,
              bar_height: int = 18, color: str = "#1f5fa8", fmt: str = "{:.1%}") -> Markup:
    """Horizontal bars with their labels and values, scaled to the largest value."""
    top = max((abs(v) for v in values if math.isfinite(v)), default=0.0) or 1.0
    label_w, value_w = 110, 70
    inner = width - label_w - value_w
    rows = []
    for k, (name, value) in enumerate(zip(labels, values, strict=True)):
        y = k * (bar_height + 4)
        w = 0.0 if not math.isfinite(value) else inner * abs(value) / top
        shown = escape(fmt.format(value)) if math.isfinite(value) else "n/a"
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar_height - 5}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 5}">{shown}</text>'
        )
    height = max(len(labels), 1) * (bar_height + 4)
    label = escape(title)
    return Markup(
        f'<svg class="bars" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}" font-size="12"><title>{label}</title>{"".join(rows)}</svg>'
    )
