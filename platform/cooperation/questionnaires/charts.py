"""Server-rendered SVG bar charts (no script, no inline style: the CSP allows neither). Each
chart has a title and a description for screen readers, and the page puts the same numbers in
a data table next to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 240
BAR_AREA = WIDTH - LABEL_WIDTH - 90
ROW = 28


@dataclass(frozen=True)
class Datum:
    label: str
    value: float
    text: str  # how the value is written next to the bar, e.g. "12 (48%)"


def bar_chart(chart_id: str, title: str, description: str, data: Sequence[Datum]) -> Markup:
    height = max(len(data), 1) * ROW + 10
    top = max((d.value for d in data), default=0) or 1
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for index, datum in enumerate(data):
        y = 5 + index * ROW
        width = round(BAR_AREA * datum.value / top, 1)
        label = datum.label if len(datum.label) <= 38 else datum.label[:37] + "…"
        parts.append(f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{ROW - 8}"/>')
        parts.append(f'<text class="chart-value" x="{LABEL_WIDTH + width + 6}" y="{y + 17}">{escape(datum.text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
