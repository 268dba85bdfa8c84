"""``harness report``: one self-contained HTML page (figures embedded as base64 PNG) and the same
content as markdown (figures as PNG files beside it).

Sections: verdicts against the baseline, a forest plot of the differences with their CIs,
tiers and seed noise, efficiency (tokens/s, memory) beside quality, curves per variant (mean
across seeds with a CI band), every pairwise comparison behind the tiers, and how the numbers
were computed. matplotlib runs on the Agg backend; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analysis import format as f

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from analysis import ComparisonResult

EFFICIENCY_COLUMNS = {
    "tokens_per_s": ("tokens/s", "maximize"),
    "peak_memory_mb": ("peak memory (MB)", "minimize"),
}
VERDICT_COLOUR = {
    "better": "#1a7f37",
    "worse": "#cf222e",
    "equivalent": "#0969da",
    "indistinguishable": "#6e7781",
}
MAX_CURVE_PANELS = 2
LABEL_OFFSETS = ((6, 6), (6, -13), (-6, 6), (-6, -13))


@dataclass(kw_only=True)
class Report:
    """A rendered report: the HTML page, the markdown text and the PNG figures by file name."""

    html: str
    markdown: str
    images: dict[str, bytes] = field(default_factory=dict)


def build_report(
    result: ComparisonResult,
    *,
    title: str,
    source: str,
    agg: str,
    table: pl.DataFrame | None = None,
    curves: pl.DataFrame | None = None,
    image_prefix: str = "report",
) -> Report:
    """Render ``result`` (and the tables it came from) as HTML and markdown.

    Args:
        result: the comparison.
        title: page title (the study name).
        source: where the results came from (shown in the header).
        agg: the curve aggregation used for the metric.
        table: one row per run with final values (for the efficiency section).
        curves: the curves table (for the curves section), or None.
        image_prefix: file-name prefix of the markdown's PNG files.
    """
    figures: list[tuple[str, str, Figure]] = [
        ("forest", "Differences against the baseline", forest_figure(result))
    ]
    efficiency = efficiency_rows(result, table)
    if efficiency:
        figures.append(
            ("efficiency", "Efficiency beside quality", efficiency_figure(result, efficiency))
        )
    if curves is not None:
        curve_figure = curves_figure(result, curves)
        if curve_figure is not None:
            figures.append(("curves", "Curves across seeds", curve_figure))
    images = {f"{image_prefix}_{key}.png": _png(figure) for key, _, figure in figures}
    captions = {f"{image_prefix}_{key}.png": caption for key, caption, _ in figures}

    sections = _sections(result, efficiency, agg)
    page = _html_page(title, source, result, sections, images, captions)
    markdown = _markdown(title, source, result, sections, captions)
    return Report(html=page, markdown=markdown, images=images)


# -- figures --------------------------------------------------------------------------------


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def forest_figure(result: ComparisonResult) -> Figure:
    """Each variant's difference from the baseline with its CI, coloured by verdict."""
    plt = _pyplot()
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
    better = "← better" if result.direction == "minimize" else "better →"
    axis.set_xlabel(
        f"{result.metric}: variant − {result.baseline}   ({1 - result.alpha:.0%} CI, "
        f"unadjusted; {better})"
    )
    axis.grid(axis="x", alpha=0.3)
    axis.margins(x=0.25)
    return figure


def efficiency_rows(result: ComparisonResult, table: pl.DataFrame | None) -> list[dict[str, Any]]:
    """Per variant: the metric's mean and each efficiency column's mean, sd and change."""
    if table is None:
        return []
    columns = [c for c in EFFICIENCY_COLUMNS if c in table.columns]
    if not columns:
        return []
    import polars as pl

    from analysis.stats import mean_ci

    rows = []
    baseline_means: dict[str, float] = {}
    for summary in result.variants:
        runs = table.filter(pl.col("variant") == summary.variant)
        row: dict[str, Any] = {"variant": summary.variant, "summary": summary}
        for column in columns:
            values = runs[column].cast(pl.Float64).to_numpy()
            stats = mean_ci(values, alpha=result.alpha)
            row[column] = {key: float(value) for key, value in stats.items()}
            if summary.variant == result.baseline:
                baseline_means[column] = row[column]["mean"]
        rows.append(row)
    for row in rows:
        for column in columns:
            base = baseline_means.get(column, math.nan)
            mean = row[column]["mean"]
            row[column]["change"] = (mean / base - 1.0) if base else math.nan
    return rows


def efficiency_figure(result: ComparisonResult, rows: list[dict[str, Any]]) -> Figure:
    """Quality (the metric) against each efficiency column, one point per variant with CIs."""
    plt = _pyplot()
    columns = [c for c in EFFICIENCY_COLUMNS if c in rows[0]]
    figure, axes = plt.subplots(1, len(columns), figsize=(5.2 * len(columns), 4.0), squeeze=False)
    verdicts = {c.variant: c.verdict for c in result.comparisons}
    for axis, column in zip(axes[0], columns, strict=True):
        label, direction = EFFICIENCY_COLUMNS[column]
        for index, row in enumerate(rows):
            summary = row["summary"]
            stats = row[column]
            colour = VERDICT_COLOUR.get(verdicts.get(row["variant"], ""), "black")
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
                capsize=3,
            )
            # Staggered labels: variants that do not differ sit on top of each other.
            dx, dy = LABEL_OFFSETS[index % len(LABEL_OFFSETS)]
            axis.annotate(
                row["variant"], (stats["mean"], summary.mean), xytext=(dx, dy),
                textcoords="offset points", fontsize=9, ha="left" if dx > 0 else "right",
            )  # fmt: skip
        axis.set_xlabel(f"{label} ({'higher' if direction == 'maximize' else 'lower'} is better)")
        axis.set_ylabel(result.metric)
        axis.grid(alpha=0.3)
        axis.margins(0.15)
    figure.suptitle(
        f"{result.metric} against cost (mean and {1 - result.alpha:.0%} CI across seeds)"
    )
    figure.tight_layout()
    return figure


def _span(high: float, low: float) -> float:
    value = high - low
    return value if math.isfinite(value) else 0.0


def curves_figure(result: ComparisonResult, curves: pl.DataFrame) -> Figure | None:
    """Mean curve per variant with a CI band across seeds: the compared metric, and the
    training loss beside it when it is a different, logged metric."""
    from analysis import curve_bands

    metrics = [result.metric] + [m for m in ("train_loss", "val_loss") if m != result.metric]
    metrics = [m for m in metrics if m in curves.columns][:MAX_CURVE_PANELS]
    panels = []
    for metric in metrics:
        bands = curve_bands(curves, metric, alpha=result.alpha)
        if bands.height and bands["step"].n_unique() >= 2:
            panels.append((metric, bands))
    if not panels:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
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
        axis.set_xlabel("step")
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


@dataclass(kw_only=True)
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    figure: str | None = None


def _sections(
    result: ComparisonResult, efficiency: list[dict[str, Any]], agg: str
) -> list[Section]:
    places = f.decimals(result)
    sections = [
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
            headers=f.variant_headers(),
            rows=f.variant_cells(result),
        ),
    ]
    if efficiency:
        columns = [c for c in EFFICIENCY_COLUMNS if c in efficiency[0]]
        headers = ["variant", f"{result.metric} mean"]
        for column in columns:
            headers += [f"{EFFICIENCY_COLUMNS[column][0]} mean ± sd", "vs baseline"]
        rows = []
        for row in efficiency:
            cells = [row["variant"], f.fmt(row["summary"].mean, places)]
            for column in columns:
                stats = row[column]
                cells += [
                    f"{_quantity(stats['mean'])} ± {_quantity(stats['sd'])}",
                    f"{stats['change']:+.1%}" if math.isfinite(stats["change"]) else "-",
                ]
            rows.append(cells)
        sections.append(
            Section(
                title="Efficiency beside quality", headers=headers, rows=rows, figure="efficiency"
            )
        )
    sections.append(Section(title="Curves", figure="curves"))
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
    sections.append(
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
        )
    )
    sections.append(Section(title="How these numbers were computed", paragraphs=_method(result)))
    return sections


def _quantity(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _method(result: ComparisonResult) -> list[str]:
    design = (
        "Paired t-test on the per-seed differences (runs with the same seed share init and data "
        "order); effect size d_z = mean difference / sd of the differences; probability of "
        "improvement = share of shared seeds on which the variant beats the baseline."
        if result.paired
        else "Welch's unequal-variance t-test (seeds not shared); effect size Hedges' g; "
        "probability of improvement = P(a run of the variant beats a run of the baseline), "
        "over all pairs of runs."
    )
    return [
        design,
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


# -- page assembly ----------------------------------------------------------------------------

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
.meta { color: #59636e; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
.better { color: #1a7f37; font-weight: 600; } .worse { color: #cf222e; font-weight: 600; }
.equivalent { color: #0969da; } .indistinguishable { color: #6e7781; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.4em 0.7em; }
img { max-width: 100%; height: auto; }
"""


def _html_page(
    title: str,
    source: str,
    result: ComparisonResult,
    sections: list[Section],
    images: dict[str, bytes],
    captions: dict[str, str],
) -> str:
    esc = html.escape
    by_key = {name.rsplit("_", 1)[-1].removesuffix(".png"): name for name in images}
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(result.metric)} · baseline {esc(result.baseline)} · source '
        f"{esc(source)}</p>",
    ]
    for section in sections:
        if section.figure and section.figure not in by_key and not section.rows:
            continue
        body.append(f"<h2>{esc(section.title)}</h2>")
        for paragraph in section.paragraphs:
            css = ' class="warning"' if paragraph.startswith("Warning:") else ""
            body.append(f"<p{css}>{esc(paragraph)}</p>")
        if section.rows:
            body.append(_html_table(section.headers, section.rows))
        if section.figure in by_key:
            name = by_key[section.figure]
            data = base64.b64encode(images[name]).decode("ascii")
            body.append(f'<img alt="{esc(captions[name])}" src="data:image/png;base64,{data}">')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for cell in row:
            css = f' class="{cell}"' if cell in VERDICT_COLOUR else ""
            cells.append(f"<td{css}>{esc(cell)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _markdown(
    title: str,
    source: str,
    result: ComparisonResult,
    sections: list[Section],
    captions: dict[str, str],
) -> str:
    by_key = {name.rsplit("_", 1)[-1].removesuffix(".png"): name for name in captions}
    lines = [f"# {title}", "", f"{result.metric} · baseline {result.baseline} · source {source}"]
    for section in sections:
        if section.figure and section.figure not in by_key and not section.rows:
            continue
        lines += ["", f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [f"**{paragraph}**" if paragraph.startswith("Warning:") else paragraph, ""]
        if section.rows:
            lines += [f.markdown_table(section.headers, section.rows), ""]
        if section.figure in by_key:
            name = by_key[section.figure]
            lines += [f"![{captions[name]}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"
