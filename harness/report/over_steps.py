"""Differences from the baseline over training: ``harness compare --over-steps`` (terminal,
markdown, JSON, CSV) and the report's "difference from baseline over training" panels.

The statistics are :func:`analysis.compare_over_steps`; this module only lays them out. A
terminal or markdown table shows a few steps per variant (evenly spaced, plus where it
separates); JSON and CSV carry every logged step.
"""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any, TextIO

from harness.report.format import fmt, fmt_ci, fmt_p, fmt_signed, markdown_table
from harness.report.page import Section
from harness.report.style import BETTER_WORDS

if TYPE_CHECKING:
    from analysis import OverStepsResult
    from analysis.over_steps import StepDifference

#: Steps per variant in the terminal and markdown tables.
SHOWN_STEPS = 10
#: Opacity of the shaded simultaneous band.
BAND_COLOUR_ALPHA = 0.18


def render(
    result: OverStepsResult,
    fmt_name: str,
    *,
    stream: TextIO | None = None,
    step_axis: str = "step",
) -> None:
    """Write ``result`` to ``stream`` (stdout) as ``table``, ``markdown``, ``json`` or ``csv``;
    the tables head their steps ``step_axis`` ("step", or "log line": no step was printed)."""
    out = stream or sys.stdout
    if fmt_name == "json":
        out.write(json.dumps(result.to_dict(), indent=2) + "\n")
    elif fmt_name == "csv":
        out.write(result.to_frame().write_csv())
    elif fmt_name == "markdown":
        out.write(markdown(result, step_axis))
    else:
        render_rich(result, out, step_axis)


def markdown(result: OverStepsResult, step_axis: str = "step") -> str:
    """The summary, a few steps per variant, the early signal and the method, as markdown."""
    parts = [
        f"**{result.metric}** over training, variant − **{result.baseline}** (paired by seed)",
        "",
        markdown_table(summary_headers(), summary_cells(result)),
        "",
        markdown_table(step_headers(result, step_axis), step_cells(result)),
        "",
        f"_{shown_note(result)}_",
        "",
        early_signal_line(result),
        "",
        result.method(),
    ]
    if result.warnings:
        parts += [""] + [f"- **warning:** {w}" for w in result.warnings]
    return "\n".join(parts) + "\n"


def render_rich(result: OverStepsResult, out: TextIO, step_axis: str = "step") -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 160, highlight=False)
    console.print(
        f"[bold]{result.metric}[/bold] over training: variant − [bold]{result.baseline}"
        "[/bold] (paired by seed)"
    )
    for title, headers, rows in (
        ("when the band separates from zero", summary_headers(), summary_cells(result)),
        ("difference at selected steps", step_headers(result, step_axis), step_cells(result)),
    ):
        table = Table(title=title, title_justify="left", show_edge=False)
        for header in headers:
            table.add_column(header, justify="left" if header == "variant" else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(f"[dim]{shown_note(result)}[/dim]")
    console.print(early_signal_line(result))
    console.print(f"[dim]{result.method()}[/dim]")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


# -- cells --------------------------------------------------------------------------------------


def summary_headers() -> list[str]:
    return [
        "variant",
        "seeds",
        "steps",
        "separated from",
        "p (any step)",
        "band c / t",
        "final diff",
        "informative from",
    ]


def summary_cells(result: OverStepsResult) -> list[list[str]]:
    """Per variant: where the band leaves zero for good, the max-t p-value, how much wider the
    band is than the pointwise CIs, the last difference, and where the early signal holds."""
    places = decimals(result)
    last = {row.variant: row for row in result.steps}
    rows = []
    for v in result.variants:
        separated = (
            f"{v.separated_from} ({v.separated_side})" if v.separated_from is not None else "never"
        )
        if v.critical_value is None:
            separated = "no band (seeds)"
        final = last.get(v.variant)
        rows.append(
            [
                f"{v.variant} †" if v.survivors_only else v.variant,
                str(v.n_seeds),
                str(v.n_steps),
                separated,
                fmt_p(v.p_value),
                (
                    f"{v.critical_value:.2f} / {v.pointwise_critical_value:.2f}"
                    if v.critical_value is not None
                    else f"- / {v.pointwise_critical_value:.2f}"
                )
                # Too few seeds for sign flips: the band holds at a few checkpoints only.
                + (
                    f" (Bonferroni-t, {len(v.checkpoints)} checkpoints)"
                    if v.band_method == "bonferroni_t"
                    else ""
                ),
                fmt_signed(final.diff, places) if final else "-",
                str(v.informative_from) if v.informative_from is not None else "-",
            ]
        )
    return rows


def step_headers(result: OverStepsResult, step_axis: str = "step") -> list[str]:
    level = f"{1 - result.alpha:.0%}"
    return ["variant", step_axis, "diff", f"{level} CI (pointwise)", "band (simultaneous)", "rho"]


def step_cells(result: OverStepsResult, per_variant: int = SHOWN_STEPS) -> list[list[str]]:
    """A few steps per variant: evenly spaced over its steps, plus its ``separated_from``."""
    places = decimals(result)
    rows = []
    for v in result.variants:
        steps = [row for row in result.steps if row.variant == v.variant]
        for row in shown_steps(steps, per_variant, v.separated_from):
            band = fmt_ci(row.band_low, row.band_high, places) if row.band_low is not None else "-"
            rho = fmt(row.spearman_final, 2) if row.spearman_final is not None else "-"
            rows.append(
                [
                    v.variant,
                    str(row.step),
                    fmt_signed(row.diff, places),
                    fmt_ci(row.ci_low, row.ci_high, places),
                    band,
                    rho,
                ]
            )
    return rows


def shown_steps(
    rows: list[StepDifference], count: int, separated_from: int | None
) -> list[StepDifference]:
    """``count`` rows evenly spaced from the first to the last, and the separation step."""
    if len(rows) <= count:
        return rows
    picks = {round(i * (len(rows) - 1) / (count - 1)) for i in range(count)}
    picks |= {i for i, row in enumerate(rows) if row.step == separated_from}
    return [rows[i] for i in sorted(picks)]


def shown_note(result: OverStepsResult) -> str:
    total = len(result.steps)
    return (
        f"{total} (variant, step) rows in all; every step: --format json or csv. rho: Spearman "
        "correlation across seeds of the per-seed differences at that step with the final ones."
    )


def early_signal_line(result: OverStepsResult) -> str:
    """Pooled over variants: from which step the gaps rank the final gaps (rho >= min_rho)."""
    if not result.early_signal:
        single = [v.informative_from for v in result.variants]
        where = single[0] if single else None
        return (
            f"Early signal: the per-seed differences rank the final ones (Spearman >= "
            f"{result.min_rho:g}) from step {where} on."
            if where is not None
            else "Early signal: not computable (too few seeds)."
        )
    n = result.early_signal[0].n
    step = result.informative_from
    shown = " · ".join(
        f"{e.step}: {fmt(e.spearman, 2)}"
        for e in shown_early(result.early_signal, SHOWN_STEPS)
        if e.spearman is not None
    )
    verdict = (
        f"from step {step} on the per-seed gaps rank the final ones with Spearman >= "
        f"{result.min_rho:g}"
        if step is not None
        else f"no step ranks the final gaps with Spearman >= {result.min_rho:g}"
    )
    return (
        f"Early signal, pooled over {len(result.variants)} variants × seeds ({n} gaps): "
        f"{verdict}; step: rho = {shown}."
    )


def shown_early(signal: tuple[Any, ...], count: int) -> list[Any]:
    if len(signal) <= count:
        return list(signal)
    return [signal[round(i * (len(signal) - 1) / (count - 1))] for i in range(count)]


def decimals(result: OverStepsResult) -> int:
    """Decimals that show a typical pointwise CI half-width to 2-3 significant digits."""
    widths = [
        (row.ci_high - row.ci_low) / 2
        for row in result.steps
        if math.isfinite(row.ci_high - row.ci_low) and row.ci_high > row.ci_low
    ]
    scale = sorted(widths)[len(widths) // 2] if widths else 1.0
    return int(min(12, max(0, 2 - math.floor(math.log10(scale)))))


# -- the report ---------------------------------------------------------------------------------


def difference_panel(
    axis: Any, over: OverStepsResult, colours: dict[str, str], step_axis: str = "step"
) -> None:
    """Each variant's mean difference from the baseline over the steps: the simultaneous band
    shaded, the pointwise CIs dotted, zero marked, and a tick where it separates for good."""
    for v in over.variants:
        rows = [row for row in over.steps if row.variant == v.variant]
        colour = colours.get(v.variant, "black")
        steps = [row.step for row in rows]
        axis.plot(steps, [row.diff for row in rows], color=colour, label=v.variant)
        axis.plot(steps, [row.ci_low for row in rows], ":", color=colour, linewidth=0.8)
        axis.plot(steps, [row.ci_high for row in rows], ":", color=colour, linewidth=0.8)
        banded = [row for row in rows if row.band_low is not None]
        if v.critical_value is not None and banded:
            axis.fill_between(
                [row.step for row in banded],
                [row.band_low for row in banded],
                [row.band_high for row in banded],
                color=colour,
                alpha=BAND_COLOUR_ALPHA,
                linewidth=0,
            )
        if v.separated_from is not None:
            axis.axvline(v.separated_from, color=colour, linestyle="--", linewidth=0.9)
    axis.axhline(0.0, color="black", linewidth=0.8)
    _focus(axis, over)
    better = f"{BETTER_WORDS[over.direction].of_zero} 0 is better"
    smoothing = f", EMA {over.smoothing:g}" if over.smoothing else ""
    axis.set_title(
        f"{over.metric}: difference from {over.baseline} over training{smoothing}\n"
        f"shaded: simultaneous band; dotted: pointwise {1 - over.alpha:.0%} CIs; dashed: "
        "separated from",
        fontsize=9,
    )
    axis.set_xlabel(step_axis)
    axis.set_ylabel(f"{over.metric}: variant − {over.baseline} ({better})")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def _focus(axis: Any, over: OverStepsResult) -> None:
    """Early steps differ wildly (losses fall fast): fit the y range to the last 80 % of steps,
    as the raw curves above do."""
    steps = [row.step for row in over.steps]
    cutoff = min(steps) + 0.2 * (max(steps) - min(steps))
    values = [0.0]
    for row in over.steps:
        if row.step >= cutoff:
            values += [row.ci_low, row.ci_high, row.diff]
            values += [v for v in (row.band_low, row.band_high) if v is not None]
    finite = [v for v in values if math.isfinite(v)]
    low, high = min(finite), max(finite)
    pad = 0.05 * (high - low) or 1.0
    axis.set_ylim(low - pad, high + pad)


def over_steps_section(found: dict[str, OverStepsResult]) -> Section | None:
    """The report's table beside the panels: per metric and variant, where it separates, and
    the early signal."""
    if not found:
        return None
    rows = []
    paragraphs = []
    for metric, over in found.items():
        for cells in summary_cells(over):
            rows.append([metric, *cells])
        paragraphs.append(f"{metric}: {early_signal_line(over)}")
    first = next(iter(found.values()))
    paragraphs.append(first.method())
    warnings = {w for over in found.values() for w in over.warnings}
    paragraphs += [f"Warning: {w}" for w in sorted(warnings)]
    return Section(
        title="Difference from baseline over training",
        paragraphs=paragraphs,
        headers=["metric", *summary_headers()],
        rows=rows,
    )
