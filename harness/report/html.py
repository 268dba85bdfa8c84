"""``harness report``: one self-contained HTML page (figures embedded as base64 PNG) and the same
content as markdown (figures as PNG files beside it).

Sections: verdicts against the baseline, a forest plot of the differences with their CIs,
tiers and seed noise, the metric against a swept parameter with a trend test (sweeps), efficiency
beside quality with the Pareto view (tokens/s, memory, KV cache, parameters), curves per variant
(mean across seeds with a CI band), every pairwise comparison behind the tiers, and how the
numbers were computed. matplotlib runs on the Agg backend; nothing is fetched from the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from harness.report import format as f
from harness.report.efficiency import (
    EFFICIENCY_COLUMNS,
    efficiency_figure,
    efficiency_rows,
    efficiency_sections,
    pareto,
)
from harness.report.factorial import factorial_sections, interaction_figure
from harness.report.over_steps import difference_panel, over_steps_section
from harness.report.page import (
    Figures,
    Report,
    Section,
    html_page,
    markdown_page,
    pyplot,
)
from harness.report.style import BETTER_WORDS, VERDICT_COLOUR
from harness.report.sweep import sweep_figure, sweep_section, trends
from harness.results.factorial import compare_factorial
from harness.results.over_steps import report_results

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from analysis import ComparisonResult, FactorialResult, OverStepsResult
    from harness.results.comparison import CompareOptions, Prepared

__all__ = [
    "EFFICIENCY_COLUMNS",
    "Report",
    "build_report",
    "forest_figure",
    "meta_line",
    "study_report",
]

MAX_CURVE_PANELS = 2


def study_report(
    prepared: Prepared,
    result: ComparisonResult,
    options: CompareOptions,
    *,
    title: str | None = None,
    lead: Callable[[Figures], list[Section]] | None = None,
) -> Report:
    """:func:`build_report` of a comparison of ``prepared`` (from
    :func:`harness.results.comparison.prepare`).

    Args:
        prepared: the input the comparison ran on.
        result: the comparison.
        options: the options it ran with (the curve aggregation and the forced design).
        title: page title; default the study's name, else the source's name.
        lead: sections (and their figures) that come first: a bisect's or regress's result.

    Returns:
        The HTML and markdown pages with their figures.
    """
    inputs = prepared.inputs
    source = inputs.source
    if title is None:
        title = (
            inputs.meta.name if inputs.meta else (source.name if source.is_dir() else source.stem)
        )
    return build_report(
        result,
        title=title,
        source=str(source),
        agg=options.agg,
        table=inputs.table,
        curves=inputs.curves(),
        runs=prepared.table,
        sweep=inputs.meta.sweep if inputs.meta else None,
        paired=options.paired,
        step_axis=inputs.step_axis(),
        factorial=compare_factorial(prepared, options),
        smoothing=options.smoothing,
        lead=lead,
        statuses=inputs.statuses,
    )


def build_report(
    result: ComparisonResult,
    *,
    title: str,
    source: str,
    agg: str,
    table: pl.DataFrame | None = None,
    curves: pl.DataFrame | None = None,
    image_prefix: str = "report",
    runs: pl.DataFrame | None = None,
    sweep: Mapping[str, Mapping[str, Any]] | None = None,
    paired: bool | None = None,
    factorial: FactorialResult | None = None,
    smoothing: float = 0.0,
    step_axis: str = "step",
    lead: Callable[[Figures], list[Section]] | None = None,
    statuses: pl.DataFrame | None = None,
) -> Report:
    """Render ``result`` (and the tables it came from) as HTML and markdown.

    Args:
        result: the comparison.
        title: page title (the study name).
        source: where the results came from (shown in the header).
        agg: the curve aggregation used for the metric.
        table: one row per run with final values (for the efficiency and Pareto sections).
        curves: the curves table (for the curves section), or None.
        image_prefix: file-name prefix of the markdown's PNG files.
        runs: one row per run with the compared metric as aggregated (for the sweep section);
            default ``table``.
        sweep: variant -> {dotted key: value} of the sweep points (``study.json``'s "sweep").
        paired: the design forced for the comparison (None: decided from the seeds), reused
            for the Pareto tiers.
        factorial: a factorial study's effects: their sections come first.
        smoothing: EMA weight of the difference-over-training panels (0: none).
        step_axis: what the curves' steps count ("step", or "log line": see
            :meth:`harness.results.load.Inputs.step_axis`), the label of their axes.
        lead: given the page's figures, the sections that come first (adding their figures).
        statuses: every planned run's ``variant``, ``seed``, ``status``: the sweep's trends
            and the differences over training apply the worst-case rule for lost runs.
    """
    figures = Figures()

    def add(key: str, caption: str, figure: Figure) -> None:
        figures.add(key, f"{image_prefix}_{key}.png", caption, figure)

    add("forest", "Differences against the baseline", forest_figure(result))
    found = trends(result, runs if runs is not None else table, sweep, lost=statuses)
    if found:
        add("sweep", "Metric against the swept parameter", sweep_figure(result, found))
    efficiency = efficiency_rows(result, table)
    front = pareto(result, table, paired) if efficiency else None
    if efficiency:
        add("efficiency", "Efficiency beside quality", efficiency_figure(result, efficiency, front))
    # Paired differences over training (issue 23), drawn under the raw curves they come from.
    over_steps = (
        report_results(
            result, curves, curve_metrics(result, curves), smoothing=smoothing, lost=statuses
        )
        if curves is not None
        else {}
    )
    if curves is not None:
        curve_figure = curves_figure(result, curves, over_steps, step_axis=step_axis)
        if curve_figure is not None:
            add("curves", "Curves across seeds", curve_figure)

    sections = comparison_sections(result, agg)
    if factorial is not None:
        interactions = interaction_figure(factorial)
        if interactions is not None:
            add("interactions", "Interaction plots", interactions)
        sections = factorial_sections(factorial) + sections
    if found:
        sections.append(sweep_section(result, found))
    if efficiency:
        sections += efficiency_sections(result, efficiency, front)
    sections.append(Section(title="Curves", figure="curves"))
    over_steps_table = over_steps_section(over_steps)
    if over_steps_table is not None and "curves" in figures.names:
        sections.append(over_steps_table)
    sections += closing_sections(result)
    if lead is not None:
        sections = lead(figures) + sections
    meta = meta_line(result, source)
    return Report(
        html=html_page(title, meta, sections, figures),
        markdown=markdown_page(title, meta, sections, figures),
        images=figures.images,
    )


def meta_line(result: ComparisonResult, source: str) -> str:
    return f"{result.metric} · baseline {result.baseline} · source {source}"


# -- figures --------------------------------------------------------------------------------


def forest_figure(result: ComparisonResult) -> Figure:
    """Each variant's difference from the baseline with its CI, coloured by verdict."""
    plt = pyplot()
    comparisons = list(result.comparisons)
    figure, axis = plt.subplots(figsize=(7.5, 0.9 + 0.45 * len(comparisons)))
    for row, c in enumerate(reversed(comparisons)):
        colour = VERDICT_COLOUR[c.verdict]
        axis.errorbar(
            c.diff,
            row,
            xerr=[[c.diff - c.ci_low], [c.ci_high - c.diff]],
            fmt="o",
            color=colour,
            capsize=4,
        )
        axis.annotate(
            c.verdict, (c.ci_high, row), xytext=(6, 0), textcoords="offset points",
            va="center", color=colour, fontsize=9,
        )  # fmt: skip
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_yticks(range(len(comparisons)))
    axis.set_yticklabels([c.variant for c in reversed(comparisons)])
    axis.set_ylim(-0.7, len(comparisons) - 0.3)
    better = BETTER_WORDS[result.direction].arrow
    axis.set_xlabel(
        f"{result.metric}: variant − {result.baseline}   ({1 - result.alpha:.0%} CI, "
        f"unadjusted; {better})"
    )
    axis.grid(axis="x", alpha=0.3)
    axis.margins(x=0.25)
    return figure


def curve_metrics(result: ComparisonResult, curves: pl.DataFrame) -> list[str]:
    """The metrics drawn as curves: the compared one, and the training or validation loss."""
    metrics = [result.metric] + [m for m in ("train_loss", "val_loss") if m != result.metric]
    return [m for m in metrics if m in curves.columns][:MAX_CURVE_PANELS]


def curves_figure(
    result: ComparisonResult,
    curves: pl.DataFrame,
    differences: Mapping[str, OverStepsResult] | None = None,
    *,
    step_axis: str = "step",
) -> Figure | None:
    """Mean curve per variant with a CI band across seeds: the compared metric, and the
    training loss beside it when it is a different, logged metric. Under each, when
    ``differences`` has that metric, the paired difference from the baseline over training with
    its simultaneous band."""
    from analysis import curve_bands

    differences = differences or {}
    panels = []
    for metric in curve_metrics(result, curves):
        bands = curve_bands(curves, metric, alpha=result.alpha)
        if bands.height and bands["step"].n_unique() >= 2:
            panels.append((metric, bands))
    if not panels:
        return None
    plt = pyplot()
    drawn = [metric for metric, _ in panels if metric in differences]
    n_rows = 2 if drawn else 1
    figure, axes = plt.subplots(
        n_rows, len(panels), figsize=(6.0 * len(panels), 4.2 * n_rows), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    by_variant = {
        summary.variant: colours[index % len(colours)]
        for index, summary in enumerate(result.variants)
    }
    for column, (metric, _) in enumerate(panels):
        if metric in differences:
            difference_panel(axes[1][column], differences[metric], by_variant, step_axis)
        elif drawn:
            axes[1][column].set_visible(False)
    for axis, (metric, bands) in zip(axes[0], panels, strict=True):
        for index, summary in enumerate(result.variants):
            band = bands.filter(bands["variant"] == summary.variant)
            if not band.height:
                continue
            colour = colours[index % len(colours)]
            steps = band["step"].to_numpy()
            axis.plot(steps, band["mean"].to_numpy(), color=colour, label=summary.variant)
            low = band["ci_low"].fill_null(float("nan")).to_numpy()
            high = band["ci_high"].fill_null(float("nan")).to_numpy()
            axis.fill_between(steps, low, high, color=colour, alpha=0.2, linewidth=0)
        _focus(axis, bands)
        axis.set_xlabel(step_axis)
        axis.set_ylabel(metric)
        axis.set_title(f"{metric}: mean and {1 - result.alpha:.0%} CI across seeds", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _focus(axis: Any, bands: pl.DataFrame) -> None:
    """Losses fall steeply at first: fit the y range to the last 80 % of the steps."""
    steps = bands["step"].cast(float).to_numpy()
    cutoff = steps.min() + 0.2 * (steps.max() - steps.min())
    late = bands.filter(bands["step"] >= cutoff)
    values = [v for v in late["ci_low"].to_list() + late["ci_high"].to_list() if v is not None]
    values += late["mean"].to_list()
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if finite:
        low, high = min(finite), max(finite)
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
        axis.set_ylim(low - pad, high + pad)


# -- text sections ----------------------------------------------------------------------------


def comparison_sections(result: ComparisonResult, agg: str) -> list[Section]:
    """Verdicts against the baseline, the forest plot, tiers and seed noise."""
    return [
        Section(
            title=f"Against {result.baseline}",
            paragraphs=[f.design_line(result) + f". Metric aggregation: {agg}."],
            headers=f.comparison_headers(result),
            rows=f.comparison_cells(result),
        ),
        Section(
            title="Forest plot",
            paragraphs=[
                "Each point is variant − baseline with its unadjusted CI; the colour is "
                "the verdict after correction for the whole family."
            ],
            figure="forest",
        ),
        Section(
            title="Tiers and seed noise",
            paragraphs=[
                f"Tiers (best first): {f.tiers_line(result)}. Variants share a tier unless "
                "they separate after correction; only tiers are ranked.",
                f.noise_line(result).capitalize() + ".",
            ]
            + [f"Warning: {w}" for w in result.warnings],
            headers=f.variant_headers(result),
            rows=f.variant_cells(result),
        ),
        *lost_runs_sections(result),
    ]


def lost_runs_sections(result: ComparisonResult) -> list[Section]:
    """Runs planned, done, diverged and failed per variant (issue 18); none without statuses."""
    if not result.runs:
        return []
    paragraphs = [
        "A variant that lost runs (diverged or failed) is called better only if it stays "
        "better when each lost run counts as the worst value in the table (worst-case rule)."
    ]
    divergence = f.divergence_line(result)
    if divergence:
        paragraphs.append(divergence.capitalize() + ".")
    return [
        Section(
            title="Runs and lost runs",
            paragraphs=paragraphs,
            headers=f.lost_runs_headers(),
            rows=f.lost_runs_cells(result),
        )
    ]


def closing_sections(result: ComparisonResult) -> list[Section]:
    """Every pairwise comparison behind the tiers, and the method."""
    places = f.decimals(result)
    pair_rows = [
        [
            f"{c.variant} − {c.baseline}",
            f.fmt_signed(c.diff, places),
            f.fmt_ci(c.ci_low, c.ci_high, places),
            f.fmt_p(c.p_value),
            f.fmt_p(c.p_adjusted),
            c.verdict,
        ]
        for c in result.pairwise
    ]
    return [
        Section(
            title="All pairwise comparisons (the tiers' evidence)",
            headers=[
                "pair",
                "diff",
                f"{1 - result.alpha:.0%} CI",
                "p",
                f"p ({result.correction})",
                "verdict",
            ],
            rows=pair_rows,
        ),
        Section(title="How these numbers were computed", paragraphs=_method(result)),
    ]


_DESIGN_TEXT = {
    "paired": "Paired t-test on the per-seed differences (runs with the same seed share init and "
    "data order); effect size d_z = mean difference / sd of the differences; probability of "
    "improvement = share of shared seeds on which the variant beats the baseline.",
    "seed_blocked": "Where two variants did not run the same seeds: least squares with the seed "
    "as a block (seed fixed effects) over every run of the table, so each pair uses all the "
    "information the study has and a variant with few seeds changes nothing for the others; "
    "variants are ordered by these seed-adjusted means.",
    "welch": "Where two variants share no seeds: Welch's unequal-variance t-test; effect size "
    "Hedges' g; probability of improvement = P(a run of the variant beats a run of the "
    "baseline), over all pairs of runs.",
}


def _method(result: ComparisonResult) -> list[str]:
    designs = {c.design for c in result.comparisons} or {"paired" if result.paired else "welch"}
    described = [_DESIGN_TEXT[d] for d in ("paired", "seed_blocked", "welch") if d in designs]
    return [
        *described,
        "`harness compare --format json` names each comparison's design (`design`). A variant that "
        "lost runs (diverged or failed) is called better only if it stays better when each lost "
        "run counts as its worst outcome; comparisons whose differences have no measurable "
        "spread (identical seeds, or spread at the metric's rounding) give no verdict.",
        f"All {result.n_comparisons} tests (every pair of variants, plus TOST equivalence tests "
        "against the baseline when a margin is given) form one family adjusted by "
        f"{'Holm' if result.correction == 'holm' else 'Benjamini–Hochberg'}; verdicts and tiers "
        "are both read from it"
        + (
            ", so the chance of any false claim in this report is at most alpha."
            if result.correction == "holm"
            else " (BH controls the false discovery rate, not the family-wise error)."
        ),
        "Seeds needed: paired seeds that detect the observed difference with 80% power at level "
        "alpha / number of comparisons (noncentral t). The observed difference is itself noisy, "
        "so treat it as a guide to the order of magnitude.",
    ]
