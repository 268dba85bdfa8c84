"""The report's quality-against-efficiency (Pareto) view.

Per variant: the metric's mean beside each recorded cost (tokens/s, peak memory, KV-cache bytes
per token, parameters), the metric plotted against each cost with the Pareto-optimal variants
marked, and a Pareto table. Which variants are optimal comes from
:func:`analysis.pareto_front`, on tiers, so differences inside seed noise dominate nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from analysis.verdict import Direction
from harness.report import format as f
from harness.report.page import Section, pyplot, quantity
from harness.report.style import BETTER_WORDS, VERDICT_COLOUR

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from analysis import ComparisonResult, ParetoResult

#: Final metrics treated as costs: column -> (label, direction).
EFFICIENCY_COLUMNS = {
    "tokens_per_s": ("tokens/s", Direction.MAXIMIZE),
    "peak_memory_mb": ("peak memory (MB)", Direction.MINIMIZE),
    "kv_cache_bytes_per_token": ("KV cache (bytes/token)", Direction.MINIMIZE),
    "n_params": ("parameters", Direction.MINIMIZE),
}
LABEL_OFFSETS = ((6, 6), (6, -13), (-6, 6), (-6, -13))


def equal_costs(result: ComparisonResult, table: pl.DataFrame) -> dict[str, float]:
    """The cost columns on which every run of the compared variants has the same value (e.g.
    the parameter count of variants that differ in a flag): a degenerate axis, left out."""
    import polars as pl

    runs = table.filter(pl.col("variant").cast(pl.Utf8).is_in([v.variant for v in result.variants]))
    equal = {}
    for column in EFFICIENCY_COLUMNS:
        if column in runs.columns:
            values = runs[column].cast(pl.Float64).drop_nulls().drop_nans()
            if values.len() and values.n_unique() == 1:
                equal[column] = float(values[0])
    return equal


def efficiency_rows(result: ComparisonResult, table: pl.DataFrame | None) -> list[dict[str, Any]]:
    """Per variant: the metric's summary and each cost column's mean, sd, CI and change; a
    cost equal for every variant is left out (each row's ``equal_costs`` says which)."""
    if table is None:
        return []
    equal = equal_costs(result, table)
    columns = [c for c in EFFICIENCY_COLUMNS if c in table.columns and c not in equal]
    if not columns:
        return []
    import polars as pl

    from analysis.stats import mean_ci

    rows = []
    baseline_means: dict[str, float] = {}
    for summary in result.variants:
        runs = table.filter(pl.col("variant") == summary.variant)
        row: dict[str, Any] = {
            "variant": summary.variant,
            "summary": summary,
            "equal_costs": equal,
        }
        for column in columns:
            values = runs[column].cast(pl.Float64).drop_nulls().to_numpy()
            stats = mean_ci(values, alpha=result.alpha) if values.size else {}
            row[column] = {
                key: float(stats.get(key, math.nan))
                for key in ("n", "mean", "sd", "ci_low", "ci_high")
            }
            if summary.variant == result.baseline:
                baseline_means[column] = row[column]["mean"]
        rows.append(row)
    for row in rows:
        for column in columns:
            base = baseline_means.get(column, math.nan)
            mean = row[column]["mean"]
            row[column]["change"] = (mean / base - 1.0) if base else math.nan
    return rows


def pareto(
    result: ComparisonResult, table: pl.DataFrame | None, paired: bool | None
) -> ParetoResult | None:
    """The tier-based Pareto analysis of the study's runs, or None without two costs' worth of
    data (no cost column, or the quality axis cannot be compared)."""
    if table is None:
        return None
    equal = equal_costs(result, table)
    costs = {
        c: EFFICIENCY_COLUMNS[c][1]
        for c in EFFICIENCY_COLUMNS
        if c in table.columns and c not in equal
    }
    if not costs or result.metric not in table.columns:
        return None
    from analysis import AnalysisError, pareto_front

    variants = [v.variant for v in result.variants]
    import polars as pl

    runs = table.filter(pl.col("variant").cast(pl.Utf8).is_in(variants))
    try:
        return pareto_front(
            runs,
            metric=result.metric,
            costs=costs,  # type: ignore[arg-type]  # directions come from EFFICIENCY_COLUMNS
            direction=result.direction,
            alpha=result.alpha,
            paired=paired,
        )
    except AnalysisError:
        return None


def efficiency_figure(
    result: ComparisonResult, rows: list[dict[str, Any]], front: ParetoResult | None
) -> Figure:
    """Quality against each cost, one point per variant with CIs; Pareto-optimal variants are
    filled and joined by a dashed line, dominated ones hollow."""
    plt = pyplot()
    columns = [c for c in EFFICIENCY_COLUMNS if c in rows[0]]
    per_row = 2 if len(columns) > 2 else len(columns)
    n_rows = math.ceil(len(columns) / per_row)
    figure, axes = plt.subplots(
        n_rows, per_row, figsize=(5.4 * per_row, 4.0 * n_rows), squeeze=False
    )
    verdicts = {c.variant: c.verdict for c in result.comparisons}
    for index, column in enumerate(columns):
        axis = axes[index // per_row][index % per_row]
        optimal = set(front.optimal_by_cost.get(column, ())) if front else set()
        _cost_panel(axis, result, rows, column, optimal if front else None, verdicts)
    for index in range(len(columns), n_rows * per_row):
        axes[index // per_row][index % per_row].set_visible(False)
    note = (
        "; filled = Pareto-optimal by tiers, hollow = dominated"
        if front is not None and front.optimal_by_cost
        else ""
    )
    figure.suptitle(
        f"{result.metric} against cost (mean and {1 - result.alpha:.0%} CI across seeds{note})"
    )
    figure.tight_layout()
    return figure


def _cost_panel(
    axis: Any,
    result: ComparisonResult,
    rows: list[dict[str, Any]],
    column: str,
    optimal: set[str] | None,
    verdicts: Mapping[str, str],
) -> None:
    label, direction = EFFICIENCY_COLUMNS[column]
    front_points = []
    for index, row in enumerate(rows):
        summary, stats = row["summary"], row[column]
        if not math.isfinite(stats["mean"]):
            continue
        colour = VERDICT_COLOUR.get(verdicts.get(row["variant"], ""), "black")
        on_front = optimal is None or row["variant"] in optimal
        axis.errorbar(
            stats["mean"],
            summary.mean,
            xerr=[
                [_span(stats["mean"], stats["ci_low"])],
                [_span(stats["ci_high"], stats["mean"])],
            ],
            yerr=[[summary.mean - summary.ci_low], [summary.ci_high - summary.mean]],
            fmt="o",
            color=colour,
            markerfacecolor=colour if on_front else "white",
            markersize=8 if optimal is not None and on_front else 6,
            capsize=3,
        )
        if optimal is not None and on_front:
            front_points.append((stats["mean"], summary.mean))
        # Staggered labels: variants that do not differ sit on top of each other.
        dx, dy = LABEL_OFFSETS[index % len(LABEL_OFFSETS)]
        axis.annotate(
            row["variant"], (stats["mean"], summary.mean), xytext=(dx, dy),
            textcoords="offset points", fontsize=9, ha="left" if dx > 0 else "right",
            fontweight="bold" if optimal is not None and on_front else "normal",
        )  # fmt: skip
    if optimal is not None and len(front_points) > 1:
        front_points.sort()
        axis.plot(*zip(*front_points, strict=True), "--", color="#59636e", linewidth=1, zorder=0)
    axis.set_xlabel(f"{label} ({BETTER_WORDS[direction].values} is better)")
    axis.set_ylabel(result.metric)
    axis.grid(alpha=0.3)
    axis.margins(0.15)


def _span(high: float, low: float) -> float:
    value = high - low
    return value if math.isfinite(value) else 0.0


def efficiency_sections(
    result: ComparisonResult, rows: list[dict[str, Any]], front: ParetoResult | None
) -> list[Section]:
    """The efficiency table (with the figure) and the Pareto table."""
    places = f.decimals(result)
    columns = [c for c in EFFICIENCY_COLUMNS if c in rows[0]]
    headers = ["variant", f"{result.metric} mean"]
    for column in columns:
        headers += [f"{EFFICIENCY_COLUMNS[column][0]} mean ± sd", "vs baseline"]
    table_rows = []
    for row in rows:
        cells = [row["variant"], f.fmt(row["summary"].mean, places)]
        for column in columns:
            stats = row[column]
            cells += [
                f"{quantity(stats['mean'])} ± {quantity(stats['sd'])}",
                f"{stats['change']:+.1%}" if math.isfinite(stats["change"]) else "-",
            ]
        table_rows.append(cells)
    equal = rows[0].get("equal_costs", {})
    left_out = [
        f"{EFFICIENCY_COLUMNS[column][0]} ({quantity(value)})" for column, value in equal.items()
    ]
    sections = [
        Section(
            title="Efficiency beside quality",
            paragraphs=(
                [f"Equal for every variant, so not drawn: {', '.join(left_out)}."]
                if left_out
                else []
            ),
            headers=headers,
            rows=table_rows,
            figure="efficiency",
        )
    ]
    if front is not None and front.costs:
        sections.append(pareto_section(front, places))
    return sections


def pareto_section(front: ParetoResult, places: int) -> Section:
    """The Pareto table: each variant's tier on every axis, optimal or dominated by whom."""
    axes = [front.quality, *front.costs]
    headers = ["variant"]
    for axis in axes:
        label = EFFICIENCY_COLUMNS.get(axis.name, (axis.name, ""))[0]
        headers.append(f"{label}: tier · mean")
    headers += ["Pareto-optimal", "dominated by"]
    tiers = [axis.tier_of() for axis in axes]
    rows = []
    for name in front.quality.tier_of():
        cells = [name]
        for axis, tier in zip(axes, tiers, strict=True):
            mean = axis.means[name]
            shown = f.fmt(mean, places) if axis is front.quality else quantity(mean)
            cells.append(f"{tier[name]} · {shown}")
        dominated = front.dominated_by[name]
        cells += ["yes" if not dominated else "no", ", ".join(dominated) or "-"]
        rows.append(cells)
    ordered = sorted(rows, key=lambda r: (r[-2] != "yes", int(r[1].split(" · ")[0])))
    names = ", ".join(axis.name for axis in axes)
    paragraphs = [
        f"Pareto-optimal on all axes together: {', '.join(front.optimal)}. Each axis ({names}) "
        "is split into tiers as in the comparison (all pairs, Holm), each at alpha/"
        f"{len(axes)} = {front.alpha_per_axis:.3g}, so every separation used here holds with "
        f"family-wise error ≤ {front.alpha:g}. A variant is dominated when another is in a "
        "better tier on at least one axis and in a worse tier on none; sharing a tier means the "
        "seeds do not separate the two, so differences inside seed noise dominate nothing. "
        "The plots mark the variants optimal on quality and that one cost.",
        "Tier 1 is the best on every axis (fastest, smallest, lowest loss when lower is "
        "better); quality tiers here are at the stricter per-axis level, so they can be "
        "coarser than the tiers above.",
    ] + [f"Warning: {w}" for w in front.warnings]
    return Section(
        title="Pareto view: quality against efficiency",
        paragraphs=paragraphs,
        headers=headers,
        rows=ordered,
    )
