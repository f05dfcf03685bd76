"""Server-rendered SVG charts (no JavaScript): accessible, styled by classes in portal.css."""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 600
HEIGHT = 200
AXIS = 24  # room under the bars for the date labels
TOP = 16  # room above the tallest bar for its number


def bar_chart(
    points: list[tuple[date, int]], *, title: str, desc: str, chart_id: str = "chart"
) -> SafeString:
    """A bar per day; <title>/<desc> name it for screen readers (the page shows a table too)."""
    count = max(len(points), 1)
    step = WIDTH / count
    bar = max(step * 0.7, 1)
    peak = max((n for _, n in points), default=0) or 1
    plot = HEIGHT - AXIS - TOP
    bars = []
    for i, (day, n) in enumerate(points):
        h = round(plot * n / peak, 1)
        x = round(i * step + (step - bar) / 2, 1)
        y = round(TOP + plot - h, 1)
        bars.append(
            (x, y, round(bar, 1), h, f"{day:%d %b}: {n}", n, round(x + bar / 2, 1), round(y - 3, 1))
        )
    rects = format_html_join(
        "",
        '<g><rect class="chart-bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>'
        '<text class="chart-value" x="{}" y="{}" text-anchor="middle">{}</text></g>',
        ((x, y, w, h, label, cx, ty, n if n else "") for x, y, w, h, label, n, cx, ty in bars),
    )
    # Date labels on every 7th bar and the last, so they stay readable on a phone.
    last = len(points) - 1
    shown = [i for i in range(len(points)) if (i % 7 == 0 and last - i >= 4) or i == last]
    ticks = format_html_join(
        "",
        '<text class="chart-axis" x="{}" y="{}" text-anchor="{}">{}</text>',
        (
            (
                round(i * step, 1)
                if i == 0
                else round((i + 1) * step, 1)
                if i == last
                else round(i * step + step / 2, 1),
                HEIGHT - 6,
                "start" if i == 0 else "end" if i == last else "middle",
                f"{points[i][0]:%d %b}",
            )
            for i in shown
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line class="chart-baseline" x1="0" x2="{}" y1="{}" y2="{}"></line>{}{}</svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        desc,
        WIDTH,
        HEIGHT - AXIS,
        HEIGHT - AXIS,
        rects,
        ticks,
    )
