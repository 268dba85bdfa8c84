"""The page of a coordinate check (``harness report runs/coordcheck/<check>/``): the verdict,
the classic coord-check plot beside it — mean |x| against width on log-log axes, one panel per
activation and layer, one line per training step, the worst panel flagged — and every judged
exponent with its interval. It renders the ``coordcheck.json`` the check saved
(:mod:`harness.coordcheck.saved`); nothing is run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from analysis.coordcheck import FAILING
from harness.report.page import Figures, Report, Section, html_page, markdown_page
from harness.report.style import CHECK_COLOUR
from harness.report.svg_plot import Line, Panel, loglog_grid

MAX_PANELS = 60  # a user model hooks every module: beyond this, the farthest from flat
# viridis without its palest yellow (unreadable on white): early steps light, late steps dark
STEP_COLOURS = ("#a5db36", "#5ec962", "#28ae80", "#21918c", "#2c728e", "#3b528b", "#472d7b")
VERDICT_WORDS = {
    "PASS": "every activation's width exponent is shown within the tolerance",
    "FAIL": "some activation grows or shrinks with width",
    "INCONCLUSIVE": "some exponent is neither shown within the tolerance nor beyond it",
}


def step_colour(index: int, count: int) -> str:
    """The colour of the ``index``-th of ``count`` steps, light to dark."""
    if count <= 1:
        return STEP_COLOURS[-1]
    position = index * (len(STEP_COLOURS) - 1) / (count - 1)
    return STEP_COLOURS[round(position)]


def _where(activation: str, layer: int | None) -> str:
    return activation if layer is None else f"{activation} · layer {layer}"


def _number(value: Any, fmt: str = "+.2f") -> str:
    return "-" if value is None else format(value, fmt)


def coordcheck_figure(result: dict[str, Any]) -> tuple[str, int]:
    """The coord-check plot of a saved result.

    Returns:
        The ``<svg>`` and how many (activation, layer) panels were left out (beyond
        :data:`MAX_PANELS`, the nearest to flat).
    """
    means: dict[tuple[str, int | None], dict[int, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in result["means"]:
        if row["value"] is not None:
            key = (row["activation"], row["layer"])
            means[key][row["step"]].append((float(row["width"]), float(row["value"])))
    exponents = {(row["activation"], row["layer"]): row for row in result["exponents"]}
    order = [key for key in exponents if key in means] + [k for k in means if k not in exponents]
    left_out = 0
    if len(order) > MAX_PANELS:
        reach = {k: abs(exponents.get(k, {}).get("slope") or 0.0) for k in order}
        kept = set(sorted(order, key=lambda k: -reach[k])[:MAX_PANELS])
        left_out = len(order) - len(kept)
        order = [k for k in order if k in kept]
    worst = result["worst"][0] if result.get("worst") else None
    worst_key = (worst["activation"], worst["layer"]) if worst else None
    steps = sorted({step for of in means.values() for step in of})
    judged_from = result.get("judged_from_step", 0)
    panels = []
    for key in order:
        row = exponents.get(key, {})
        failing = row.get("status") in FAILING
        flag = "worst" if key == worst_key and result["verdict"] != "PASS" else ""
        flag = flag or (
            "FAIL" if failing else "uncertain" if row.get("status") == "uncertain" else ""
        )
        colour = CHECK_COLOUR["FAIL" if failing else "INCONCLUSIVE"]  # red only for a failure
        subtitle = ""
        if row.get("slope") is not None:
            subtitle = f"exponent {row['slope']:+.2f}"
            if row.get("ci_low") is not None and row.get("ci_high") is not None:
                subtitle += f" [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]"
        lines = [
            Line(
                points=sorted(means[key][step]),
                colour=step_colour(index, len(steps)),
                label=f"step {step}",
                css="step-line",
                data={"step": str(step)},
                dashed=step < judged_from,
            )
            for index, step in enumerate(steps)
            if step in means[key]
        ]
        panels.append(
            Panel(
                title=_where(*key),
                subtitle=subtitle,
                lines=lines,
                flag=flag,
                flag_colour=colour,
                data={
                    "activation": key[0],
                    "layer": "" if key[1] is None else str(key[1]),
                    "worst": "true" if key == worst_key else "false",
                    "status": str(row.get("status", "")),
                },
            )
        )
    legend = [
        (f"step {step}" + ("" if step >= judged_from else " (not judged)"), colour, dashed)
        for step, colour, dashed in (
            (step, step_colour(i, len(steps)), step < judged_from) for i, step in enumerate(steps)
        )
    ]
    svg = loglog_grid(
        panels,
        x_label="width",
        y_label="mean |x|",
        x_ticks=[float(w) for w in result["widths"]],
        legend=legend,
        css="coordcheck-plot",
    )
    return svg, left_out


def coordcheck_sections(result: dict[str, Any], figures: Figures) -> list[Section]:
    """The verdict, the plot and the exponents table of a saved coordinate check."""
    verdict = result["verdict"]
    summary = Section(
        title="Verdict",
        headers=["verdict", "exit code", "widths", "seeds", "judged steps", "tolerance", "time"],
        rows=[
            [
                verdict,
                str(result.get("exit_code", "")),
                ", ".join(map(str, result["widths"])),
                str(result["seeds"]),
                f"{result['judged_from_step']}..{result['steps'] - 1}",
                f"|exponent| <= {result['tolerance']:g}",
                f"{result['seconds']:g} s on {result.get('device', '?')}",
            ]
        ],
        paragraphs=[
            f"{verdict}: {VERDICT_WORDS.get(verdict, '')}. Each wrong verdict has probability "
            f"at most {result['alpha']:.0%} over {result['looks']} look(s)."
        ],
    )
    svg, left_out = coordcheck_figure(result)
    figures.add_svg(
        "coordcheck", "report_coordcheck.svg", "mean |x| against width, one line per step", svg
    )
    note = (
        f" {left_out} panel(s) nearest to flat are left out (at most {MAX_PANELS} are drawn)."
        if left_out
        else ""
    )
    plot = Section(
        title="Coordinate check: mean |x| against width",
        paragraphs=[
            "One panel per activation and layer, one line per training step (light: early, "
            "dark: late; dashed: before the judged steps), mean |x| averaged over seeds against "
            "the width on log-log axes. Under muP every line is flat; a line that rises or "
            "falls with width is the bug. Framed red: failing ('worst': the exponent farthest "
            f"from 0); amber: not yet shown within the tolerance (marked 'worst' when none fails)."
            f"{note}"
        ],
        figure="coordcheck",
    )
    rows = [
        [
            row["activation"],
            "" if row["layer"] is None else str(row["layer"]),
            _number(row.get("slope")),
            f"[{_number(row.get('ci_low'))}, {_number(row.get('ci_high'))}]",
            str(row.get("status", "")),
            "" if row.get("worst_step") is None else str(row["worst_step"]),
        ]
        for row in result["exponents"]
    ]
    table = Section(
        title="Width exponents",
        paragraphs=[
            *result.get("failures", []),
            *result.get("uncertain", []),
            *([result["more_seeds"]] if result.get("more_seeds") else []),
            "The slope of log mean|x| over the judged steps against log width, seeds as blocks, "
            "with its interval; see docs/coordcheck.md.",
        ],
        headers=["activation", "layer", "exponent", "interval", "status", "steepest step"],
        rows=rows,
    )
    return [summary, plot, table]


def coordcheck_report(result: dict[str, Any], *, source: Path) -> Report:
    """The page and markdown of a saved coordinate check.

    Args:
        result: ``coordcheck.json`` as read by
            :func:`harness.store.command_results.read_command_result`.
        source: the check's folder (shown in the header).

    Returns:
        The HTML page (the plot inline as SVG), the markdown and its ``.svg`` figure.
    """
    figures = Figures()
    sections = coordcheck_sections(result, figures)
    title = f"coordcheck: {result.get('what', source.name)}"
    meta = f"{result['verdict']} · source {source}"
    return Report(
        html=html_page(title, meta, sections, figures),
        markdown=markdown_page(title, meta, sections, figures),
        images=figures.images,
    )
