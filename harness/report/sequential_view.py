"""Show a sequential (anytime-valid) report: a rich table, markdown, or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: float | None, places: int = 4) -> str:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value:+.{places}f}"


def rows(report: Any) -> list[dict[str, Any]]:
    """One row per comparison, the values a reader needs."""
    out = []
    for comparison in report.comparisons:
        result = comparison.result
        verdict = result.verdict
        if verdict == "undecided":
            verdict = "undecided (more seeds could decide)"
        elif verdict == "inconclusive":
            verdict = "inconclusive (seed budget spent)"
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
                f"[{_fmt(row['cs_low'])}, {_fmt(row['cs_high'])}] | {row['verdict']} "
                f"| {row['fixed_n'] if row['fixed_n'] is not None else '—'} |"
            )
        console.print("\n".join(lines), markup=False)
        console.print(summary_line(report), markup=False)
        return
    table = Table(
        title=f"sequential comparison with {report.baseline} on {report.metric} "
        f"({report.direction}), anytime-valid, alpha {report.alpha:g}"
    )
    for column in ("variant", "seeds", "diff", "confidence sequence", "verdict", "fixed-n seeds"):
        table.add_column(column)
    for row in rows(report):
        table.add_row(
            row["variant"],
            str(row["seeds"]),
            _fmt(row["diff"]),
            f"[{_fmt(row['cs_low'])}, {_fmt(row['cs_high'])}]",
            row["verdict"],
            str(row["fixed_n"]) if row["fixed_n"] is not None else "—",
        )
    console.print(table)
    console.print(summary_line(report))
