"""Small figures drawn as inline SVG: log-log line panels (the coordinate check) and interval
rows (the commits a bisect tested).

SVG rather than a PNG so a page's plot is text: crisp at any zoom, searchable, and checkable
by a test (each line an element with its step, each axis a labelled ``<text>``). Nothing
here knows what is plotted; the views in ``coordcheck_view`` and ``commits_view`` do.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

FONT = 'font-family="Helvetica, Arial, sans-serif"'
AXIS_COLOUR = "#59636e"
GRID_COLOUR = "#eaeef2"


@dataclass(frozen=True, kw_only=True)
class Line:
    """One line of a panel.

    Attributes:
        points: (x, y) pairs; those not finite and positive are left out on log axes.
        colour: its stroke colour.
        label: what it stands for (the SVG ``<title>`` and ``data-label``).
        css: its class (``step-line``), for styling and tests.
        data: extra ``data-*`` attributes (``{"step": "3"}``).
        dashed: drawn dashed.
    """

    points: Sequence[tuple[float, float]]
    colour: str
    label: str
    css: str = "line"
    data: dict[str, str] = field(default_factory=dict)
    dashed: bool = False


@dataclass(frozen=True, kw_only=True)
class Panel:
    """One log-log panel.

    Attributes:
        title: above the plot.
        subtitle: a second, smaller line (the judged exponent).
        lines: its lines.
        flag: a word drawn in the corner ("worst", "FAIL"), with a frame, in ``flag_colour``;
            "" none.
        flag_colour: the flag's colour.
        data: extra ``data-*`` attributes of the panel's group.
    """

    title: str
    lines: Sequence[Line]
    subtitle: str = ""
    flag: str = ""
    flag_colour: str = "#cf222e"
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LogScale:
    """A log axis: ``log(value)`` from ``low`` to ``high`` onto pixels ``start`` to
    ``start + length`` (a negative length runs upwards, as a y axis does)."""

    low: float
    high: float
    start: float
    length: float

    def __call__(self, value: float) -> float:
        return self.start + self.length * (math.log(value) - self.low) / (
            (self.high - self.low) or 1.0
        )


def _attrs(data: dict[str, str]) -> str:
    return "".join(f' data-{key}="{html.escape(value)}"' for key, value in data.items())


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis from ``low`` to ``high`` (both > 0): decades, or 1-2-5 steps
    when the range spans less than two decades, or the ends when even those miss it."""
    if not (0 < low <= high) or not math.isfinite(high):
        return []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)):
        ticks = [
            m * 10.0**e
            for e in range(first, last + 1)
            for m in mantissas
            if low <= m * 10.0**e <= high
        ]
        if len(ticks) >= 2 and len(ticks) <= 8:
            return ticks
    return [low, high] if low < high else [low]


def tick_text(value: float) -> str:
    """A tick label: ``0.01``, ``2``, ``300``, ``1.0e+04``."""
    return f"{value:.3g}" if 1e-4 <= abs(value) < 1e4 else f"{value:.1e}"


def loglog_grid(
    panels: Sequence[Panel],
    *,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[float],
    columns: int = 4,
    legend: Sequence[tuple[str, str, bool]] = (),
    css: str = "plot",
) -> str:
    """Panels on a grid, each with log x (ticks at ``x_ticks``) and log y axes of its own.

    Args:
        panels: the panels, row by row.
        x_label, y_label: every panel's axis labels (``<text class="axis-label">``).
        x_ticks: the x values labelled (the widths).
        columns: panels per row.
        legend: (label, colour, dashed) entries drawn above the grid.
        css: the ``<svg>``'s class.

    Returns:
        One ``<svg>`` element.
    """
    panel_w, panel_h = 260, 210
    left, right, top, bottom = 52, 10, 40, 40  # inside a panel: room for ticks and labels
    legend_h = 28 if legend else 0
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = columns * panel_w, rows * panel_h + legend_h
    out = [
        f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="11" role="img">'
    ]
    x = 8
    for label, colour, dashed in legend:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(
            f'<g class="legend-entry"><line x1="{x}" y1="14" x2="{x + 22}" y2="14" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{x + 26}" y="18">{html.escape(label)}</text></g>'
        )
        x += 34 + 7 * len(label)
    xs = [t for t in x_ticks if t > 0]
    x_low, x_high = (min(xs), max(xs)) if xs else (1.0, 2.0)
    for index, panel in enumerate(panels):
        ox = (index % columns) * panel_w
        oy = legend_h + (index // columns) * panel_h
        plot_w, plot_h = panel_w - left - right, panel_h - top - bottom
        ys = [
            y
            for line in panel.lines
            for px, y in line.points
            if px > 0 and y > 0 and math.isfinite(y) and math.isfinite(px)
        ]
        y_low, y_high = (min(ys), max(ys)) if ys else (1.0, 10.0)
        # The y axis spans at least the x axis's factor, so a slope reads as itself: a flat
        # line looks flat (not noise blown up to the panel's height), exponent 1 steep.
        missing = math.log(x_high / x_low) - math.log(y_high / y_low)
        if missing > 0:
            y_low, y_high = y_low / math.exp(missing / 2), y_high * math.exp(missing / 2)
        pad = (math.log(y_high) - math.log(y_low)) * 0.06
        x_pad = (math.log(x_high) - math.log(x_low)) * 0.05 or 0.5
        sx = LogScale(
            low=math.log(x_low) - x_pad, high=math.log(x_high) + x_pad, start=ox + left,
            length=plot_w,
        )  # fmt: skip
        sy = LogScale(
            low=math.log(y_low) - pad, high=math.log(y_high) + pad, start=oy + top + plot_h,
            length=-plot_h,
        )  # fmt: skip
        ly_low, ly_high = sy.low, sy.high

        frame = panel.flag_colour if panel.flag else "#d0d7de"
        frame_w = 2 if panel.flag else 1
        out.append(f'<g class="panel"{_attrs(panel.data)}>')
        out.append(
            f'<rect x="{ox + 2}" y="{oy + 2}" width="{panel_w - 4}" height="{panel_h - 4}" '
            f'fill="none" stroke="{frame}" stroke-width="{frame_w}" rx="4"/>'
        )
        # a long module name keeps its end (the part that differs) and shows whole on hover
        shown_title = panel.title if len(panel.title) <= 30 else "…" + panel.title[-29:]
        out.append(
            f'<text class="panel-title" x="{ox + left}" y="{oy + 16}" font-weight="bold">'
            f"<title>{html.escape(panel.title)}</title>{html.escape(shown_title)}</text>"
        )
        if panel.subtitle:
            out.append(
                f'<text class="panel-subtitle" x="{ox + left}" y="{oy + 30}" '
                f'fill="{AXIS_COLOUR}" font-size="10">{html.escape(panel.subtitle)}</text>'
            )
        if panel.flag:
            out.append(
                f'<text class="flag" x="{ox + panel_w - 10}" y="{oy + 16}" text-anchor="end" '
                f'fill="{panel.flag_colour}" font-weight="bold">{html.escape(panel.flag)}</text>'
            )
        # axes, grid and ticks
        x0, x1 = ox + left, ox + left + plot_w
        y0, y1 = oy + top, oy + top + plot_h
        out.append(
            f'<rect x="{x0}" y="{y0}" width="{plot_w}" height="{plot_h}" fill="none" '
            f'stroke="{AXIS_COLOUR}" stroke-width="0.8"/>'
        )
        for tick in xs:
            px = sx(tick)
            out.append(
                f'<line x1="{px:.1f}" y1="{y0}" x2="{px:.1f}" y2="{y1}" stroke="{GRID_COLOUR}"/>'
                f'<text class="tick" x="{px:.1f}" y="{y1 + 12}" text-anchor="middle" '
                f'font-size="9" fill="{AXIS_COLOUR}">{tick_text(tick)}</text>'
            )
        for tick in log_ticks(math.exp(ly_low), math.exp(ly_high)):
            py = sy(tick)
            out.append(
                f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="{GRID_COLOUR}"/>'
                f'<text class="tick" x="{x0 - 3}" y="{py + 3:.1f}" text-anchor="end" '
                f'font-size="9" fill="{AXIS_COLOUR}">{tick_text(tick)}</text>'
            )
        out.append(
            f'<text class="axis-label" x="{(x0 + x1) / 2}" y="{y1 + 27}" '
            f'text-anchor="middle" fill="{AXIS_COLOUR}">{html.escape(x_label)}</text>'
        )
        cy = (y0 + y1) / 2
        out.append(
            f'<text class="axis-label" x="{ox + 12}" y="{cy}" text-anchor="middle" '
            f'transform="rotate(-90 {ox + 12} {cy})" fill="{AXIS_COLOUR}">'
            f"{html.escape(y_label)}</text>"
        )
        for line in panel.lines:
            shown = [
                (sx(px), sy(py))
                for px, py in line.points
                if px > 0 and py > 0 and math.isfinite(px) and math.isfinite(py)
            ]
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in shown)
            dash = ' stroke-dasharray="4 3"' if line.dashed else ""
            out.append(
                f'<g class="{line.css}"{_attrs(line.data)} data-label="{html.escape(line.label)}">'
                f"<title>{html.escape(line.label)}</title>"
                f'<polyline points="{coords}" fill="none" stroke="{line.colour}" '
                f'stroke-width="1.6"{dash}/>'
                + "".join(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{line.colour}"/>'
                    for px, py in shown
                )
                + "</g>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True, kw_only=True)
class IntervalRow:
    """One row of an interval plot.

    Attributes:
        label: on the left (the commit).
        estimate: the point; None draws no point (an untested or skipped commit).
        low, high: the interval; None for none.
        colour: of the point, interval and right-hand word.
        word: on the right (the verdict).
        data: extra ``data-*`` attributes of the row's group.
    """

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    colour: str
    word: str = ""
    data: dict[str, str] = field(default_factory=dict)


def interval_rows(
    rows: Sequence[IntervalRow],
    *,
    x_label: str,
    references: Sequence[tuple[float, str]] = (),
    css: str = "intervals",
) -> str:
    """Horizontal intervals, one row each, on a linear x axis with vertical reference lines.

    Args:
        rows: top to bottom.
        x_label: the axis label (``<text class="axis-label">``).
        references: (x, label) vertical lines: 0, the margin, the tolerance.
        css: the ``<svg>``'s class.

    Returns:
        One ``<svg>`` element.
    """
    label_w, word_w, plot_w, row_h, top, bottom = 200, 120, 520, 26, 26, 44
    width, height = label_w + plot_w + word_w, top + row_h * len(rows) + bottom
    values = [v for r in rows for v in (r.estimate, r.low, r.high) if v is not None]
    values += [x for x, _ in references]
    values = [v for v in values if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (-1.0, 1.0)
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.06
    low, high = low - pad, high + pad

    def sx(value: float) -> float:
        return label_w + plot_w * (value - low) / (high - low)

    out = [
        f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="11" role="img">'
    ]
    y_end = top + row_h * len(rows)
    for x, label in references:
        px = sx(x)
        out.append(
            f'<g class="reference"><line x1="{px:.1f}" y1="{top - 8}" x2="{px:.1f}" y2="{y_end}" '
            f'stroke="{AXIS_COLOUR}" stroke-dasharray="3 3"/><text x="{px:.1f}" y="{top - 12}" '
            f'text-anchor="middle" font-size="10" fill="{AXIS_COLOUR}">{html.escape(label)}</text>'
            "</g>"
        )
    for index, row in enumerate(rows):
        cy = top + row_h * index + row_h / 2
        out.append(f'<g class="interval-row"{_attrs(row.data)}>')
        if index % 2 == 0:
            out.append(
                f'<rect x="0" y="{cy - row_h / 2}" width="{width}" height="{row_h}" '
                'fill="#f6f8fa"/>'
            )
        out.append(
            f'<text x="6" y="{cy + 4}" font-family="monospace">{html.escape(row.label)}</text>'
        )
        if row.low is not None and row.high is not None:
            out.append(
                f'<line class="interval" x1="{sx(row.low):.1f}" y1="{cy}" x2="{sx(row.high):.1f}" '
                f'y2="{cy}" stroke="{row.colour}" stroke-width="2"/>'
            )
            for end in (row.low, row.high):
                out.append(
                    f'<line x1="{sx(end):.1f}" y1="{cy - 5}" x2="{sx(end):.1f}" y2="{cy + 5}" '
                    f'stroke="{row.colour}" stroke-width="2"/>'
                )
        if row.estimate is not None:
            out.append(
                f'<circle class="estimate" cx="{sx(row.estimate):.1f}" cy="{cy}" r="4.5" '
                f'fill="{row.colour}"/>'
            )
        out.append(
            f'<text x="{label_w + plot_w + 10}" y="{cy + 4}" fill="{row.colour}" '
            f'font-weight="bold">{html.escape(row.word)}</text></g>'
        )
    axis_y = y_end + 4
    out.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )
    for tick in linear_ticks(low, high):
        px = sx(tick)
        out.append(
            f'<line x1="{px:.1f}" y1="{axis_y}" x2="{px:.1f}" y2="{axis_y + 4}" '
            f'stroke="{AXIS_COLOUR}"/><text class="tick" x="{px:.1f}" y="{axis_y + 15}" '
            f'text-anchor="middle" font-size="9" fill="{AXIS_COLOUR}">{tick:g}</text>'
        )
    out.append(
        f'<text class="axis-label" x="{label_w + plot_w / 2}" y="{axis_y + 33}" '
        f'text-anchor="middle" fill="{AXIS_COLOUR}">{html.escape(x_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def linear_ticks(low: float, high: float, target: int = 6) -> list[float]:
    """About ``target`` round tick values between ``low`` and ``high``."""
    span = high - low
    if not (span > 0) or not math.isfinite(span):
        return []
    raw = span / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    # the round step whose tick count comes nearest the target
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(span / s - target))
    start = math.ceil(low / step) * step
    count = math.floor((high - start) / step + 1e-9) + 1
    return [round(start + i * step, 12) for i in range(count)]
