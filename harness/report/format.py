"""Plain-text renderings of a :class:`~analysis.compare.ComparisonResult` (markdown), and the
number formatting shared with the CLI's rich tables and the HTML report."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from analysis.verdict import improvement
from harness.report.style import BETTER_WORDS, SURVIVORS_ONLY_MARK, WITHHELD_NOTE

if TYPE_CHECKING:
    from analysis.compare import ComparisonResult, VariantSummary


def decimals(result: ComparisonResult) -> int:
    """Decimals that show the seed noise sd to about 2-3 significant digits: metric values,
    sds and differences are all printed with this many, so they line up and compare."""
    scale = result.seed_noise_sd
    if not math.isfinite(scale) or scale <= 0:
        scale = max((abs(v.mean) for v in result.variants), default=1.0) or 1.0
    return int(min(12, max(0, 2 - math.floor(math.log10(scale)))))


def fmt(value: float | None, places: int = 2) -> str:
    """Fixed ``places`` decimals; '-' for None/NaN."""
    if value is None or not math.isfinite(value):
        return "-" if value is None or math.isnan(value) else str(value)
    return f"{value:.{places}f}"


def fmt_signed(value: float | None, places: int = 2) -> str:
    text = fmt(value, places)
    return f"+{text}" if value is not None and math.isfinite(value) and value > 0 else text


def fmt_p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def fmt_ci(low: float | None, high: float | None, places: int = 2) -> str:
    return f"[{fmt(low, places)}, {fmt(high, places)}]"


TEST_NAMES = {
    "paired_t": "paired t-test by seed",
    "welch_t": "Welch t-test (unpaired)",
    "seed_blocked": "paired t-test by seed where variants ran the same seeds, else least squares "
    "with seed fixed effects (seed-blocked)",
    "mixed": "per pair: paired t-test, seed-blocked least squares, or Welch (see 'design')",
}


def design_line(result: ComparisonResult) -> str:
    """One sentence: the test, the effect size, the family and its correction."""
    test = TEST_NAMES.get(result.test, result.test)
    effect = {
        "d_z": "d_z = mean diff / sd diff",
        "hedges_g": "Hedges' g",
    }.get(result.effect_size_kind, "d_z (paired, seed-blocked) or Hedges' g (Welch)")
    correction = "Holm (family-wise error)" if result.correction == "holm" else "BH (FDR)"
    better = BETTER_WORDS[result.direction].values
    return (
        f"{test}; effect size {effect}; {family_words(result, correction)} at alpha = "
        f"{result.alpha:g}; {better} {result.metric} is better"
    )


def family_words(result: ComparisonResult, correction: str) -> str:
    """What the multiplicity family holds: every pair of variants (the tiers' evidence, more
    than the table's rows against the baseline) and the equivalence tests against it.

    Args:
        result: the comparison.
        correction: the correction's name, as shown.

    Returns:
        E.g. "6 tests (every pair of the 4 variants, 3 of them against the baseline) adjusted
        together by Holm".
    """
    size = result.n_comparisons
    if size == 1:
        return "1 test (nothing to adjust)"
    variants = len(result.variants)
    pairs = variants * (variants - 1) // 2
    equivalence = size - pairs
    if pairs < 1 or equivalence < 0:  # a family of another shape: say its size only
        return f"{size} tests adjusted together by {correction}"
    parts = [f"every pair of the {variants} variants, {variants - 1} of them against the baseline"]
    if variants == 2:
        parts = ["the pair"]
    if equivalence:
        parts.append(f"and {equivalence} equivalence tests against the baseline")
    return f"{size} tests ({' '.join(parts)}) adjusted together by {correction}"


def noise_line(result: ComparisonResult) -> str:
    level = result.alpha / result.n_comparisons
    places = decimals(result)
    return (
        f"seed noise sd {fmt(result.seed_noise_sd, places)}; minimum detectable effect "
        f"{fmt(result.min_detectable_effect, places)} (80% power, two-sided level {level:.3g}, "
        "current seeds)"
    )


def tiers_line(result: ComparisonResult) -> str:
    line = "  >  ".join(" = ".join(tier) for tier in result.tiers)
    if result.unranked:
        line += f"  (not ranked, one seed: {', '.join(result.unranked)})"
    return line


def variant_headers(result: ComparisonResult | None = None) -> list[str]:
    """The variants table's columns; with run statuses, the lost-runs counts too."""
    headers = ["tier", "variant", "n", "mean", "sd", "CI of mean"]
    if result is not None and _adjusted_differs(result):
        headers.append("seed-adjusted mean")
    if result is not None and result.runs:
        headers += ["planned", "diverged", "failed"]
    return headers


def _adjusted_differs(result: ComparisonResult) -> bool:
    return any(
        math.isfinite(v.adjusted_mean) and abs(v.adjusted_mean - v.mean) > 1e-12 * (abs(v.mean) + 1)
        for v in result.variants
    )


def variant_cells(result: ComparisonResult) -> list[list[str]]:
    tier = result.tier_of()
    places = decimals(result)
    adjusted = _adjusted_differs(result)
    runs = {r.variant: r for r in result.runs}
    rows = []
    unranked = len(result.tiers) + 1  # a single-run variant has no tier: listed last
    for v in sorted(
        result.variants, key=lambda v: (tier.get(v.variant, unranked), _rank_key(result, v))
    ):
        is_baseline = v.variant == result.baseline and v.variant != "baseline"
        label = f"{v.variant} (baseline)" if is_baseline else v.variant
        row = [
            str(tier[v.variant]) if v.variant in tier else "-",
            label,
            str(v.n),
            fmt(v.mean, places),
            fmt(v.sd, places),
            fmt_ci(v.ci_low, v.ci_high, places),
        ]
        if adjusted:
            row.append(fmt(v.adjusted_mean, places))
        if result.runs:
            counts = runs.get(v.variant)
            row += (
                [str(counts.planned), str(counts.diverged), str(counts.failed)]
                if counts
                else ["-"] * 3
            )
        rows.append(row)
    return rows


def lost_runs_headers() -> list[str]:
    return ["variant", "planned", "done", "diverged", "failed"]


def lost_runs_cells(result: ComparisonResult) -> list[list[str]]:
    """Runs per variant (every variant with a status, compared or not)."""
    return [
        [r.variant, str(r.planned), str(r.done), str(r.diverged), str(r.failed)]
        for r in result.runs
    ]


def divergence_line(result: ComparisonResult) -> str | None:
    """The exact test of equal divergence rates, in words; None when nothing diverged."""
    test = result.divergence_test
    if test is None:
        return None
    verdict = "differ beyond chance" if test.significant else "do not differ beyond chance"
    method = "Freeman-Halton exact test" if test.method == "freeman_halton_exact" else "chi-square"
    return f"divergence rates {verdict} ({method}, p = {fmt_p(test.p_value)})"


def comparison_headers(result: ComparisonResult) -> list[str]:
    headers = [
        "variant",
        "pairs" if result.paired else "n",
        "diff",
        f"{1 - result.alpha:.0%} CI",
        "p",
        f"p ({result.correction})",
        result.effect_size_kind,
        "P(better)",
        "verdict",
        "seeds needed",
    ]
    if result.test not in ("paired_t", "welch_t"):
        headers.insert(1, "design")
    return headers


def comparison_cells(result: ComparisonResult) -> list[list[str]]:
    n = {v.variant: v.n for v in result.variants}
    places = decimals(result)
    rows = []
    for c in result.comparisons:
        verdict = str(c.verdict)
        if c.withheld is not None:
            verdict = f"{verdict} ({WITHHELD_NOTE[c.withheld]})"
        row = [
            c.variant,
            str(c.n_pairs) if result.paired else f"{n[c.variant]}/{n[c.baseline]}",
            fmt_signed(c.diff, places),
            fmt_ci(c.ci_low, c.ci_high, places)
            + (f" {SURVIVORS_ONLY_MARK}" if c.survivors_only else ""),
            fmt_p(c.p_value),
            fmt_p(c.p_adjusted),
            fmt(c.effect_size, 2),
            fmt(c.prob_improvement, 2),
            verdict,
            "-" if c.seeds_needed is None else str(c.seeds_needed),
        ]
        if result.test not in ("paired_t", "welch_t"):
            row.insert(1, c.design)
        rows.append(row)
    return rows


def _rank_key(result: ComparisonResult, variant: VariantSummary) -> float:
    # The tiers' order: seed-adjusted means where the model has them.
    mean = variant.adjusted_mean if math.isfinite(variant.adjusted_mean) else variant.mean
    return -improvement(mean, result.direction)  # best first


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers))] + [line(r) for r in rows])


def result_markdown(result: ComparisonResult) -> str:
    """The comparison as markdown: design, variants, comparisons, tiers, noise, warnings."""
    parts = [
        f"**{result.metric}** vs baseline **{result.baseline}** — {design_line(result)}.",
        "",
        markdown_table(variant_headers(result), variant_cells(result)),
        "",
        markdown_table(comparison_headers(result), comparison_cells(result)),
        "",
        f"**Tiers** (best first): {tiers_line(result)}",
        "",
        noise_line(result).capitalize() + ".",
    ]
    divergence = divergence_line(result)
    if divergence:
        parts += ["", divergence.capitalize() + "."]
    if result.warnings:
        parts += [""] + [f"- **warning:** {w}" for w in result.warnings]
    return "\n".join(parts) + "\n"
