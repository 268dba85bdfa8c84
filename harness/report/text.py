"""``harness compare`` output in the terminal (rich), markdown, JSON and CSV."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Literal, TextIO

from harness.report.style import VERDICT_STYLE

if TYPE_CHECKING:
    from analysis import ComparisonResult


def render(result: ComparisonResult, fmt: str, *, stream: TextIO | None = None) -> None:
    """Write ``result`` to ``stream`` (stdout) as ``table``, ``markdown``, ``json`` or ``csv``."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write(json.dumps(result.to_dict(), indent=2) + "\n")
    elif fmt == "csv":
        out.write(result.to_frame().write_csv())
    elif fmt == "markdown":
        from harness.report.format import result_markdown

        out.write(result_markdown(result))
    else:
        render_rich(result, out)


def render_rich(result: ComparisonResult, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.report import format as f

    console = Console(file=out, width=None if out.isatty() else 160, highlight=False)
    console.print(
        f"[bold]{result.metric}[/bold] against baseline [bold]{result.baseline}[/bold]\n"
        f"[dim]{f.design_line(result)}[/dim]"
    )

    variants = Table(title="variants", title_justify="left", show_edge=False)
    for header in f.variant_headers(result):
        variants.add_column(header, justify=_justify(header == "variant"))
    for row in f.variant_cells(result):
        variants.add_row(*row)
    console.print(variants)

    comparisons = Table(
        title=f"against {result.baseline} (diff = variant - baseline)",
        title_justify="left",
        show_edge=False,
    )
    for header in f.comparison_headers(result):
        comparisons.add_column(header, justify=_justify(header in ("variant", "verdict")))
    for row, comparison in zip(f.comparison_cells(result), result.comparisons, strict=True):
        style = VERDICT_STYLE[comparison.verdict]
        comparisons.add_row(*row[:-2], f"[{style}]{row[-2]}[/{style}]", row[-1])
    console.print(comparisons)
    divergence = f.divergence_line(result)
    if divergence:
        console.print(divergence)

    console.print(f"[bold]tiers[/bold] (best first): {f.tiers_line(result)}")
    console.print(f.noise_line(result))
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _justify(left: bool) -> Literal["left", "right"]:
    return "left" if left else "right"
