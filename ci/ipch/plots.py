"""SVG charts drawn by hand: one small panel per target, a line per series.

Small multiples rather than one crowded chart: thirty targets' lines on one
pair of axes cannot be told apart, thirty small panels on one scale can.
Each panel spans the points of its x axis (the runs of a history, oldest
left; or message sizes). On a linear scale its y axis starts at 0 so that a
panel's height means the same in every panel of a chart; figures that span
orders of magnitude (latency from 64 B to 8 MiB) take a log scale, whose
decades are as tall in every panel.
"""

import html
import math

PANEL_W, PANEL_H = 220, 110
PAD_L, PAD_R, PAD_T, PAD_B = 44, 36, 22, 20
COLUMNS = 4
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#7f7f7f")


def nice_ceiling(value):
    """The smallest 1, 2 or 5 times a power of ten at or above value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def short_number(value):
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


class Scale:
    """Where a value goes between the bottom (0) and the top (1) of a panel."""

    def __init__(self, values, log=False):
        self.log = log and any(v > 0 for v in values)
        if self.log:
            positive = [v for v in values if v > 0]
            self.bottom = 10 ** math.floor(math.log10(min(positive)))
            self.top = 10 ** math.ceil(math.log10(max(positive)))
            if self.top <= self.bottom:
                self.top = self.bottom * 10
        else:
            self.bottom, self.top = 0.0, nice_ceiling(max(values) if values else 1.0)

    def fraction(self, value):
        value = min(value, self.top)
        if not self.log:
            return value / self.top
        value = max(value, self.bottom)
        return math.log(value / self.bottom) / math.log(self.top / self.bottom)


def panel(x0, y0, title, series, runs, scale, unit, ticks=()):
    """One panel at (x0, y0): series is [(label, [value or None per x point])];
    ticks names the x points under the axis, if given."""
    w = PANEL_W - PAD_L - PAD_R
    h = PANEL_H - PAD_T - PAD_B
    left, base = x0 + PAD_L, y0 + PAD_T + h
    parts = [f'<text x="{x0 + PAD_L}" y="{y0 + 14}" class="t">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{base}" x2="{left + w}" y2="{base}" class="axis"/>',
             f'<line x1="{left}" y1="{base}" x2="{left}" y2="{base - h}" class="axis"/>',
             f'<text x="{left - 4}" y="{base - h + 4}" class="y">'
             f'{short_number(scale.top)}{unit}</text>',
             f'<text x="{left - 4}" y="{base + 4}" class="y">'
             f'{short_number(scale.bottom) if scale.log else 0}</text>']

    def xy(i, value):
        x = left + (w * i / (runs - 1) if runs > 1 else w / 2)
        return x, base - h * scale.fraction(value)

    decade = scale.bottom * 10
    while scale.log and decade < scale.top:
        y = base - h * scale.fraction(decade)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" class="y">{short_number(decade)}</text>')
        decade *= 10
    for i, tick in enumerate(ticks):
        x, _ = xy(i, scale.bottom)
        parts.append(f'<text x="{x:.1f}" y="{base + 11}" class="x">{html.escape(tick)}</text>')

    for number, (colour, (_, values)) in enumerate(zip(COLOURS, series)):
        points = [xy(i, v) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.5"/>')
        for x, y in points[-1:] if len(points) > 1 else points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        # The first series' value above its last point, the last series'
        # below, so that two close lines keep readable labels; the ones
        # between (percentiles) are read off the axis.
        if points and number in (0, len(series) - 1):
            last = [v for v in values if v is not None][-1]
            x, y = points[-1]
            dy = -4 if number == 0 else 11
            parts.append(f'<text x="{x + 3:.1f}" y="{y + dy:.1f}" '
                         f'class="v" fill="{colour}">{short_number(last)}</text>')
    return parts


def small_multiples(title, panels, labels, run_names, unit="", log=False, span=None):
    """An SVG document: panels is [(panel title, [[value or None per run] per label])];
    labels names the series (the legend); run_names the points of the x axis
    (the runs, oldest first). Given span, the title says it, and run_names
    are short enough to go under each panel's axis (message sizes)."""
    runs = max(len(run_names), 1)
    rows = max(1, math.ceil(len(panels) / COLUMNS))
    width, height = PANEL_W * COLUMNS, PANEL_H * rows + 50
    body = []
    for index, (name, values) in enumerate(panels):
        numbers = [v for series in values for v in series if v is not None]
        scale = Scale(numbers, log)
        x0 = PANEL_W * (index % COLUMNS)
        y0 = 40 + PANEL_H * (index // COLUMNS)
        body += panel(x0, y0, name, list(zip(labels, values)), runs, scale, unit,
                      run_names if span else ())
    legend = []
    for i, (colour, label) in enumerate(zip(COLOURS, labels)):
        x = 10 + 150 * i
        legend.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{colour}"/>'
                      f'<text x="{x + 14}" y="33" class="l">{html.escape(label)}</text>')
    if span is None:
        span = (f"{run_names[0]} to {run_names[-1]}, {len(run_names)} runs"
                if len(run_names) > 1 else f"{run_names[0] if run_names else 'no run'}, one run")
    style = ("<style>text{font-family:sans-serif}.t{font-size:11px;font-weight:bold}"
             ".y{font-size:9px;text-anchor:end;fill:#555}.v{font-size:9px}"
             ".l{font-size:11px}.h{font-size:13px;font-weight:bold}"
             ".x{font-size:8px;text-anchor:middle;fill:#555}"
             ".axis{stroke:#888;stroke-width:1}.grid{stroke:#ddd;stroke-width:1}</style>")
    return "\n".join(
        [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}">', style,
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="10" y="16" class="h">{html.escape(title)} ({html.escape(span)})</text>']
        + legend + body + ["</svg>", ""])
