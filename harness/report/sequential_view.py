"""Show a sequential (anytime-valid) report: a rich table, markdown, or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from analysis.verdict import Verdict, Withheld
from harness.report.style import (
    FUTILITY_NOTE,
    OPEN_VERDICT_NOTE,
    SURVIVORS_ONLY_MARK,
    WITHHELD_NOTE,
)


def _fmt(value: float | None, places: int = 4) -> str:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value:+.{places}f}"


def rows(report: Any) -> list[dict[str, Any]]:
    """One row per comparison, the values a reader needs."""
    out = []
    for comparison in report.comparisons:
        result = comparison.result
        verdict = str(result.verdict)
        stopped = getattr(result, "stopped", None)
        if result.verdict == Verdict.UNDECIDED:
            verdict += f" ({OPEN_VERDICT_NOTE[Verdict.UNDECIDED]})"
        elif stopped == "futility":
            verdict += f" ({FUTILITY_NOTE[result.margin is not None]})"
        elif result.verdict == Verdict.INCONCLUSIVE:
            verdict += f" ({OPEN_VERDICT_NOTE[Verdict.INCONCLUSIVE]})"
        if getattr(result, "withheld", None) == Withheld.LOST_RUNS:
            lost = comparison.lost_runs + getattr(comparison, "baseline_lost_runs", 0)
            verdict += f" [{WITHHELD_NOTE[Withheld.LOST_RUNS]}: {lost}]"
        elif not getattr(result, "noise_measured", True):
            verdict += f" [{WITHHELD_NOTE[Withheld.UNMEASURED_NOISE]}]"
        out.append(
            {
                "variant": comparison.variant,
                "seeds": result.n,
                "diff": result.mean,
                "cs_low": result.cs_low,
                "cs_high": result.cs_high,
                "verdict": verdict,
                "decided_at": result.decided_at,
                "fixed_n": comparison.fixed_n,
                "note": f" {SURVIVORS_ONLY_MARK}"
                if getattr(comparison, "survivors_only", False)
                else "",
            }
        )
    return out


def summary_line(report: Any) -> str:
    fixed = report.runs_fixed_design
    fixed_text = (
        f"a fixed design with {report.target_power:.0%} power at the observed effects "
        f"would need {fixed}"
        if fixed is not None
        else "a fixed design's size is not computable for some comparison (no effect or no spread)"
    )
    if getattr(report, "design", "anytime-valid") == "group-sequential":
        design = (report.design_details or {}).get("design", {})
        margin = design.get("margin")
        margin_text = (
            f"{margin:g}" if margin is not None else "the budget's 80%-power effect x seed sd"
        )
        return (
            f"runs used: {report.runs_used}; {fixed_text}. Group-sequential design, budget "
            f"{report.max_seeds} seeds: family-wise error <= {report.alpha:g} at the looks "
            f"taken (each comparison at {report.alpha_per_comparison:.4g}, "
            f"{design.get('spending')} spending, parameter {design.get('spending_parameter')}); "
            f"non-binding futility against {margin_text} at level "
            f"{design.get('futility_level')}. Intervals are repeated confidence intervals."
        )
    return (
        f"runs used: {report.runs_used}; {fixed_text}. Family-wise error <= "
        f"{report.alpha:g} under a look after every seed (each comparison at "
        f"{report.alpha_per_comparison:.4g})."
    )


def print_report(report: Any, console: Console, *, fmt: str = "table") -> None:
    """Print ``report`` (an ``analysis.sequential.SequentialReport``) in ``fmt``."""
    if fmt == "json":
        console.print_json(json.dumps(report.to_dict()))
        return
    if fmt == "markdown":
        lines = [
            "| variant | seeds | diff | confidence sequence | verdict | fixed-n seeds |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows(report):
            lines.append(
                f"| {row['variant']} | {row['seeds']} | {_fmt(row['diff'])} | "
                f"[{_fmt(row['cs_low'])}, {_fmt(row['cs_high'])}]{row['note']} | {row['verdict']} "
                f"| {row['fixed_n'] if row['fixed_n'] is not None else '—'} |"
            )
        console.print("\n".join(lines), markup=False)
        console.print(summary_line(report), markup=False)
        for warning in getattr(report, "warnings", ()):
            console.print(f"- **warning:** {warning}", markup=False)
        return
    table = Table(
        title=f"sequential comparison with {report.baseline} on {report.metric} "
        f"({report.direction}), {getattr(report, 'design', 'anytime-valid')}, "
        f"alpha {report.alpha:g}"
    )
    for column in ("variant", "seeds", "diff", "confidence sequence", "verdict", "fixed-n seeds"):
        table.add_column(column)
    for row in rows(report):
        table.add_row(
            row["variant"],
            str(row["seeds"]),
            _fmt(row["diff"]),
            f"[{_fmt(row['cs_low'])}, {_fmt(row['cs_high'])}]{row['note']}",
            row["verdict"],
            str(row["fixed_n"]) if row["fixed_n"] is not None else "—",
        )
    console.print(table)
    console.print(summary_line(report))
    for warning in getattr(report, "warnings", ()):
        console.print(f"warning: {warning}", markup=False)


def print_boundaries(
    design: Any,
    bounds: Any,
    console: Console,
    *,
    fmt: str = "table",
    characteristics: Any = None,
) -> None:
    """The per-look boundaries of a group-sequential design (``harness validate``).

    Args:
        design: an ``analysis.group_sequential.GroupSequentialDesign``.
        bounds: its ``LookBoundaries`` at the planned looks.
        console: where to print.
        fmt: ``table``, ``markdown`` or ``json``.
        characteristics: its ``OperatingCharacteristics``, or None (a stated margin: the
            effect in sd units is unknown before any run).
    """
    if fmt == "json":
        shown = {"design": design.to_dict(), "boundaries": bounds.to_dict()}
        if characteristics is not None:
            shown["operating_characteristics"] = characteristics.to_dict()
        console.print_json(json.dumps(shown))
        return
    margin = (
        f"margin {design.margin:g}"
        if design.margin is not None
        else f"default margin {bounds.default_effect:.3f} x the seed sd of the paired differences"
        " (the effect the budget detects with 80% power)"
    )
    title = (
        f"group-sequential design: budget {design.max_seeds} seeds, alpha {design.alpha:g} over "
        f"{design.comparisons} comparison(s) ({design.level:.4g} each), {design.spending} "
        f"spending ({design.spending_parameter}); futility at level "
        f"{design.futility_error:.4g}, "
        f"{margin}"
    )
    header = ("seeds", "fraction", "alpha spent", "z bound", "|t| bound", "futility q")
    cells = [
        (
            str(n),
            f"{f:.3f}",
            f"{a:.5f}",
            _bound(z),
            _bound(t),
            _bound(q),
        )
        for n, f, a, z, t, q in zip(
            bounds.seeds,
            bounds.fractions,
            bounds.alpha_spent,
            bounds.z_efficacy,
            bounds.t_efficacy,
            bounds.t_futility,
            strict=True,
        )
    ]
    expect = _expectations(design, characteristics)
    if fmt == "markdown":
        lines = [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        console.print("\n".join([*lines, "", expect]), markup=False)
        return
    table = Table(title=title)
    for column in header:
        table.add_column(column)
    for row in cells:
        table.add_row(*row)
    console.print(table)
    console.print(
        "A look at n seeds stops for efficacy when |t| >= the |t| bound (n - 1 df), for "
        "futility when |mean| + q * sd/sqrt(n) < the margin.",
        markup=False,
    )
    console.print(expect, markup=False)


def _expectations(design: Any, characteristics: Any) -> str:
    """What one comparison can expect, in words: power and seeds against a fixed budget."""
    if characteristics is None:
        return (
            "What to expect: not simulated with a stated margin (its size in seed sds is "
            "unknown before any run)."
        )
    c = characteristics
    n = design.max_seeds
    return (
        f"What to expect per comparison ({c.simulations} simulated, normal seed noise): at the "
        f"default effect ({c.effect:.3f} seed sds) power {c.power:.3f} against {c.fixed_power:.3f} "
        f"for a fixed {n}-seed t-test (ratio {c.power / c.fixed_power:.3f}), mean seeds "
        f"{c.seeds_at_effect:.1f} of {n}; with no effect, mean seeds {c.seeds_at_null:.1f} "
        f"({c.futility_at_null:.0%} stop for futility)."
    )


def _bound(value: float) -> str:
    return "—" if value != value or value == float("inf") else f"{value:.3f}"
