"""Factorial studies in ``harness compare``, ``harness report`` and ``harness validate``.

The effects are computed in :mod:`harness.results.factorial`; here they are rendered: a table
of effects (terminal, markdown, JSON, CSV) and, for the report, an interaction plot per pair of
factors (least-squares cell means with their CIs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from typing import TYPE_CHECKING, Any, TextIO

from harness.report import format as f
from harness.report.page import Section, pyplot
from harness.report.style import BETTER_WORDS, VERDICT_STYLE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.factorial import Effect, FactorialResult
    from harness.report.listing import Listing
    from harness.study.factorial import FactorialDesign


# -- text --------------------------------------------------------------------------------------


def places(result: FactorialResult) -> int:
    """Decimals that show the residual noise to 2-3 significant digits."""
    scale = result.sigma
    if not math.isfinite(scale) or scale <= 0:
        scale = max((abs(m.mean) for m in result.means), default=1.0) or 1.0
    return int(min(12, max(0, 2 - math.floor(math.log10(scale)))))


def effect_headers(result: FactorialResult) -> list[str]:
    return [
        "term",
        "estimate",
        f"{1 - result.alpha:.0%} CI",
        "p",
        "p (Holm)",
        "verdict",
        "seeds needed",
        "aliases",
    ]


def effect_cells(result: FactorialResult) -> list[list[str]]:
    digits = places(result)
    return [_effect_row(e, digits) for e in result.effects]


def _effect_row(effect: Effect, digits: int) -> list[str]:
    if effect.test == "F":
        estimate = f"F({effect.df_num}, {effect.df:.3g}) = {f.fmt(effect.statistic, 2)}"
        interval = "(omnibus)"
    else:
        estimate = f.fmt_signed(effect.estimate, digits)
        interval = f.fmt_ci(effect.ci_low, effect.ci_high, digits)
    return [
        effect.term,
        estimate,
        interval,
        f.fmt_p(effect.p_value),
        f.fmt_p(effect.p_adjusted),
        effect.verdict,
        str(effect.seeds_needed) if effect.seeds_needed is not None else "-",
        " = ".join(effect.aliases),
    ]


def design_sentence(result: FactorialResult) -> str:
    better = BETTER_WORDS[result.direction].values
    return (
        f"{len(result.factors)} factors, {result.cells_run} of {result.cells_total} cells run, "
        f"{result.n_runs} runs on {result.n_seeds} seeds. Least squares with one intercept per "
        f"seed ({result.model}); {result.sums_of_squares} sums of squares; {result.n_tests} "
        f"tests adjusted together by Holm at alpha = {result.alpha:g}; residual sd "
        f"{f.fmt(result.sigma, places(result))} on {result.df_resid} df (pooled; each "
        f"effect's error and df come from the cells' own variances, Satterthwaite); {better} "
        f"{result.metric} is better. Main effect = second level minus first, averaged over the "
        "other factors; interaction = difference of differences."
    )


def render_factorial(result: FactorialResult, fmt: str, *, stream: TextIO | None = None) -> None:
    """Write the effects as ``table``, ``markdown``, ``json`` or ``csv``."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write(json.dumps(result.to_dict(), indent=2) + "\n")
    elif fmt == "csv":
        import polars as pl

        out.write(pl.DataFrame([e.to_dict() for e in result.effects]).drop(
            "factors", "levels", "aliases").write_csv())  # fmt: skip
    elif fmt == "markdown":
        out.write(factorial_markdown(result))
    else:
        _rich(result, out)


def factorial_markdown(result: FactorialResult) -> str:
    lines = [
        f"**{result.metric}: factorial effects**",
        "",
        design_sentence(result),
        "",
        f.markdown_table(effect_headers(result), effect_cells(result)),
        "",
        f.markdown_table(*means_table(result)),
    ]
    lines += ["", *[f"**Warning:** {w}" for w in result.warnings]] if result.warnings else []
    return "\n".join(lines).rstrip() + "\n"


def means_table(result: FactorialResult) -> tuple[list[str], list[list[str]]]:
    """Least-squares means of each factor's levels and of each pair's cells."""
    digits = places(result)
    headers = ["factors", "levels", "runs", "mean", f"{1 - result.alpha:.0%} CI"]
    rows = [
        [
            " × ".join(m.factors),
            " × ".join(m.levels),
            str(m.n_runs),
            f.fmt(m.mean, digits),
            f.fmt_ci(m.ci_low, m.ci_high, digits),
        ]
        for m in result.means
    ]
    return headers, rows


def _rich(result: FactorialResult, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 160, highlight=False)
    console.print(f"[bold]{result.metric}[/bold]: factorial effects")
    console.print(f"[dim]{design_sentence(result)}[/dim]")
    table = Table(title="effects", title_justify="left", show_edge=False)
    for header in effect_headers(result):
        table.add_column(header, justify="left" if header in ("term", "verdict") else "right")
    for row in effect_cells(result):
        style = VERDICT_STYLE.get(row[5], "")
        table.add_row(*row[:5], f"[{style}]{row[5]}[/{style}]" if style else row[5], *row[6:])
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


# -- the report ------------------------------------------------------------------------------


def interaction_figure(result: FactorialResult) -> Figure | None:
    """One panel per pair of factors: the cell means (least-squares, averaged over the other
    factors and the seeds) against the first factor's levels, one line per level of the
    second, with ``1 - alpha`` CIs. Parallel lines: no interaction."""
    names = list(result.factors)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    if not pairs:
        return None
    plt = pyplot()
    columns = min(3, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.0 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (a, b) in enumerate(pairs):
        axis = axes[index // columns][index % columns]
        means = result.pair_means(a, b)
        a_levels = list(result.factors[a])
        for j, level in enumerate(result.factors[b]):
            series = [m for m in means if m.levels[1] == level]
            xs = [a_levels.index(m.levels[0]) + (j - 0.5) * 0.04 for m in series]
            ys = [m.mean for m in series]
            low = [m.mean - m.ci_low if math.isfinite(m.ci_low) else 0.0 for m in series]
            high = [m.ci_high - m.mean if math.isfinite(m.ci_high) else 0.0 for m in series]
            axis.errorbar(
                xs, ys, yerr=[low, high], fmt="o-", capsize=4,
                color=colours[j % len(colours)], label=f"{_short(b)} = {level}",
            )  # fmt: skip
        axis.set_xticks(range(len(a_levels)))
        axis.set_xticklabels(a_levels)
        axis.set_xlim(-0.4, len(a_levels) - 0.6)
        axis.set_xlabel(_short(a))
        axis.set_ylabel(result.metric)
        axis.set_title(_pair_title(result, a, b), fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    for index in range(len(pairs), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.tight_layout()
    return figure


def _pair_title(result: FactorialResult, a: str, b: str) -> str:
    found = [e for e in result.effects if e.kind == "interaction" and e.factors == (a, b)]
    omnibus = [e for e in found if e.test == "F"] or found[:1]
    title = f"{_short(a)} × {_short(b)}"
    if not omnibus:
        pair = f"{a}:{b}"
        partner = [e for e in result.effects if pair in [x.lstrip("-") for x in e.aliases]]
        if partner:  # a fraction: this interaction is estimated (and drawn) under its alias
            return f"{title}: aliased with {partner[0].term},\ndrawn without its own interaction"
        return title
    effect = omnibus[0]
    aliases = " = ".join(effect.aliases)
    alias = f"\n(aliased: = {aliases})" if aliases else ""
    return f"{title}: {effect.verdict}, p (Holm) {f.fmt_p(effect.p_adjusted)}{alias}"


def _short(key: str) -> str:
    return key.split(".")[-1]


def factorial_sections(result: FactorialResult) -> list[Section]:
    """The effects table, the interaction plot and the least-squares means."""
    headers, rows = means_table(result)
    return [
        Section(
            title="Factorial effects",
            paragraphs=[design_sentence(result)] + [f"Warning: {w}" for w in result.warnings],
            headers=effect_headers(result),
            rows=effect_cells(result),
        ),
        Section(
            title="Interaction plots",
            paragraphs=[
                "Each panel: the least-squares mean of every cell of a pair of factors "
                "(averaged over the other factors and the seeds) with its "
                f"{1 - result.alpha:.0%} CI. Parallel lines mean no interaction; the title "
                "gives the interaction's verdict after Holm."
            ],
            figure="interactions",
        ),
        Section(title="Least-squares means", headers=headers, rows=rows),
    ]


# -- harness validate --------------------------------------------------------------------------


def with_design(listing: Listing, design: FactorialDesign) -> Listing:
    """``harness validate``'s listing with the design (cells, and a fraction's aliases) in
    its header and its JSON payload."""
    from harness.study.factorial import design_lines

    payload: dict[str, Any] = (
        dict(listing.payload) if listing.payload is not None else {"rows": listing.rows}
    )
    payload["factorial"] = design.to_dict()
    return dataclasses.replace(
        listing, header=[*listing.header, *design_lines(design)], payload=payload
    )
