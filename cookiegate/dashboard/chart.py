"""The daily chart as SVG made on the server: consents as bars (left scale), opt-in rates as
lines (right scale, 0-100 %). Presentation attributes only, no inline CSS, so it works under
the strict CSP and reads without JavaScript (a <title>/<desc> and a data table go with it)."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 12, 34
LINE_COLOURS = ("#d2691e", "#2e8b57", "#8a4fbf", "#1f5fbf")
BAR_COLOUR = "#b8c7e0"


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(math.ceil(step * magnitude))
    return value


def daily_chart(rows: list[dict[str, Any]], categories: list[str], label: Callable[[str], str],
                number: Callable[[float], str], title: str, desc: str) -> Markup:
    count = max(len(rows), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((row["consents"] for row in rows), default=0))
    slot = plot_w / count
    bar_w = max(1.0, slot * 0.7)
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">',
             f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>']
    # Grid and scales: consents on the left, rates on the right.
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ee" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6574">{escape(number(top * i / 4))}</text>')
        parts.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" fill="#5b6574">{i * 25}%</text>')
    for index, row in enumerate(rows):
        x = LEFT + slot * index + (slot - bar_w) / 2
        h = plot_h * row["consents"] / top
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR_COLOUR}" '
                     f'data-key="{escape(row["key"])}" data-consents="{row["consents"]}"><title>{escape(label(row["key"]))}: '
                     f'{escape(number(row["consents"]))}</title></rect>')
    for c_index, slug in enumerate(categories):
        points = []
        for index, row in enumerate(rows):
            rate: Optional[float] = row["rates"].get(slug)
            if rate is None:
                continue
            x = LEFT + slot * index + slot / 2
            points.append(f"{x:.1f},{TOP + plot_h - plot_h * rate:.1f}")
        if points:
            colour = LINE_COLOURS[c_index % len(LINE_COLOURS)]
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2" '
                         f'data-series="rate_{escape(slug)}"/>')
    # A few date labels along the bottom.
    step = max(1, math.ceil(count / 8))
    for index in range(0, len(rows), step):
        x = LEFT + slot * index + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#5b6574">'
                     f'{escape(label(rows[index]["key"]))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
