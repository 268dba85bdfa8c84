"""The report's metric-against-parameter view for a study with a numeric ``[sweep]``.

One panel per swept parameter: the metric's mean at every point with its t interval across
seeds (the band), each seed's own line faintly behind it (the pairing the trend test uses),
and the fitted slope. The trend test is :func:`analysis.sweep_trends` (per-seed slopes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.report import format as f
from harness.report.page import Section, pyplot

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from analysis import ComparisonResult, Trend


def trends(
    result: ComparisonResult,
    table: pl.DataFrame | None,
    points: Mapping[str, Mapping[str, Any]] | None,
    lost: pl.DataFrame | None = None,
) -> list[Trend]:
    """The sweep's trends for the compared metric, or [] when the study has no numeric sweep;
    ``lost`` (every planned run's status) applies the worst-case rule for lost runs."""
    if table is None or not points or result.metric not in table.columns:
        return []
    from analysis import sweep_trends

    return sweep_trends(
        table,
        metric=result.metric,
        points=points,
        alpha=result.alpha,
        direction=result.direction,
        lost=lost,
    )


def sweep_figure(result: ComparisonResult, found: list[Trend]) -> Figure:
    plt = pyplot()
    parameters = list(dict.fromkeys(t.parameter for t in found))
    figure, axes = plt.subplots(
        1, len(parameters), figsize=(6.2 * len(parameters), 4.4), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, parameter in zip(axes[0], parameters, strict=True):
        series = [t for t in found if t.parameter == parameter]
        for index, trend in enumerate(series):
            colour = colours[index % len(colours)]
            xs = [p.x for p in trend.points]
            if len(series) == 1:
                for values in trend.seed_values:
                    axis.plot(xs, values, color="#8c959f", linewidth=0.8, alpha=0.6, zorder=1)
            means = [p.mean for p in trend.points]
            label = trend.label() if len(series) > 1 else "mean across seeds"
            axis.plot(xs, means, "o-", color=colour, label=label, zorder=3)
            axis.fill_between(
                xs,
                [_finite(p.ci_low, p.mean) for p in trend.points],
                [_finite(p.ci_high, p.mean) for p in trend.points],
                color=colour,
                alpha=0.18,
                linewidth=0,
            )
            if math.isfinite(trend.fit.slope):
                centre = sum(xs) / len(xs)
                level = sum(means) / len(means)
                fitted = [level + trend.fit.slope * (x - centre) for x in xs]
                axis.plot(xs, fitted, ":", color=colour, linewidth=1.2, zorder=2)
        if len(series) == 1:
            axis.plot([], [], color="#8c959f", linewidth=0.8, label="one seed")
            axis.plot([], [], ":", color="black", linewidth=1.2, label="fitted slope")
        axis.set_xlabel(parameter)
        axis.set_ylabel(result.metric)
        axis.set_title(
            f"{result.metric} against {parameter.split('.')[-1]}: mean and "
            f"{1 - result.alpha:.0%} CI across seeds",
            fontsize=10,
        )
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _finite(value: float, fallback: float) -> float:
    return value if math.isfinite(value) else fallback


def sweep_section(result: ComparisonResult, found: list[Trend]) -> Section:
    places = f.decimals(result)
    headers = [
        "parameter",
        "points",
        "seeds",
        "slope per unit",
        f"{1 - result.alpha:.0%} CI",
        "p",
        "p (Holm)",
        "Page p",
        "trend",
    ]
    rows = [
        [
            t.label(),
            str(len(t.points)),
            str(t.fit.n_seeds),
            f.fmt_signed(t.fit.slope, places),
            f.fmt_ci(t.fit.ci_low, t.fit.ci_high, places),
            f.fmt_p(t.fit.p_value),
            f.fmt_p(t.p_adjusted),
            f.fmt_p(t.page_p),
            t.verdict,
        ]
        for t in found
    ]
    seed_effects = all(t.fit.seed_effects for t in found)
    design = (
        "fitted per seed (seed fixed effects for the intercept and the slope); the test is a "
        "t-test of the mean of the seeds' slopes, so the average slope is judged against how "
        "much the slope itself varies from seed to seed, not against the run noise alone"
        if seed_effects
        else "with a single intercept where the points share no seeds (no pairing possible)"
    )
    disagree = [t.label() for t in found if t.heterogeneity_p <= result.alpha]
    if disagree:
        design += (
            f". The seeds' slopes differ beyond run noise for {', '.join(disagree)} (F-test of "
            "the seed × parameter interaction): a common-slope test would overstate certainty"
        )
    return Section(
        title="Sweep: metric against the swept parameter",
        paragraphs=[
            f"Each point is the mean of {result.metric} across seeds with its t interval (the "
            "band); the grey lines are single seeds. The trend test is the least-squares slope "
            f"of {result.metric} on the parameter {design}. The slopes' p-values are adjusted "
            "together (Holm); a trend is reported only when the adjusted p ≤ "
            f"{result.alpha:g}. Page's L test (seeds as blocks, points in parameter order, "
            "two-sided) checks the direction without assuming a straight line.",
            "A wide band with a clear trend is not a contradiction: the band includes the seed "
            "effect, which moves all points of a seed together and cancels in the slope.",
        ],
        headers=headers,
        rows=rows,
        figure="sweep",
    )
