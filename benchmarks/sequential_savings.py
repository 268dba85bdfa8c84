"""Runs used by adaptive seeding (analysis.sequential) against a fixed-n design.

Simulated studies: paired differences (variant − baseline) are i.i.d. normal with mean δ·σ and
sd σ, so δ is the effect in units of the seed-to-seed sd of the paired difference. Each
comparison is looked at after every seed up to --max-seeds, at level α/m (Bonferroni).

"Fixed n at equal power" is the smallest n at which the fixed-n paired t-test (two-sided, same
level α/m) has the power the sequential design reached at that δ (the equivalence rows use the
TOST at level α/m), computed exactly with the noncentral t. It is an oracle: it knows δ, which
the sequential design does not. Powers are capped at 0.99 before matching (above that the
Monte-Carlo estimate is too coarse to invert), which favours the fixed design.

The group-sequential sections (issue 24, ``analysis.group_sequential``) simulate the design
``harness study --until-decided --max-seeds N`` runs: looks after every seed from 2 to N,
efficacy boundaries spending α/m, non-binding futility against the default margin (the effect
the budget detects with 80 % power) or a given one.

Usage:
    .venv/bin/python benchmarks/sequential_savings.py [--sims 20000] [--max-seeds 30]
        [--only group-sequential]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np
from scipy import stats

from analysis.group_sequential import (
    EFFICACY_BETTER,
    EFFICACY_WORSE,
    FUTILITY,
    GroupSequentialDesign,
    simulate_decisions,
)
from analysis.power import minimum_detectable_effect
from analysis.sequential import (
    DEFAULT_EFFECT_PRIOR_VARIANCE,
    VERDICT_CODES,
    confidence_sequence,
    decision_path,
    fixed_n_equal_power,
    paired_t_power,
)
from analysis.stats import running_mean_sd

BETTER, WORSE, EQUIVALENT = (VERDICT_CODES.index(v) for v in ("better", "worse", "equivalent"))
POWER_CAP = 0.99


def simulate(
    diffs: np.ndarray,
    *,
    alpha: float,
    margin: float | None = None,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Final verdict code and seeds used per simulated comparison (minimize: lower is better)."""
    cs = confidence_sequence(diffs, alpha=alpha, effect_prior_variance=effect_prior_variance)
    codes = decision_path(cs.low, cs.high, margin=margin)
    final = codes[..., -1]
    used = np.where(final > 0, np.argmax(codes > 0, axis=-1) + 1, diffs.shape[-1])
    return final, used


def naive_peeking(diffs: np.ndarray, alpha: float, first_look: int = 2) -> np.ndarray:
    """Whether a two-sided paired t-test reached p < alpha at any look (the usual practice)."""
    n = np.arange(1, diffs.shape[-1] + 1)
    mean = np.cumsum(diffs, axis=-1) / n
    ss = np.cumsum((diffs - diffs[..., :1]) ** 2, axis=-1) - n * (mean - diffs[..., :1]) ** 2
    k = slice(first_look - 1, None)
    t = mean[..., k] / np.sqrt(ss[..., k] / (n[k] - 1) / n[k])
    return (2 * stats.t.sf(np.abs(t), n[k] - 1) < alpha).any(axis=-1)


def null_table(rng: np.random.Generator, sims: int, max_seeds: int, alpha: float) -> list[str]:
    shape = (sims, max_seeds)
    noises = {
        "normal": rng.standard_normal(shape),
        "t, 3 df (symmetric, heavy tails)": rng.standard_t(3, shape),
        "Laplace (symmetric)": rng.laplace(size=shape),
        "normal, 5% of seeds with 10× sd (symmetric)": np.where(rng.random(shape) < 0.05, 10.0, 1.0)
        * rng.standard_normal(shape),
        "lognormal(0, 1) run noise in both arms (difference symmetric)": rng.lognormal(0, 1, shape)
        - rng.lognormal(0, 1, shape),
        "gamma(4) − 4 (skewness 1)": rng.gamma(4.0, size=shape) - 4.0,
        "exponential − 1 (skewness 2)": rng.exponential(size=shape) - 1.0,
        "lognormal(0, 1) − mean (skewness 6)": rng.lognormal(0, 1, shape) - np.exp(0.5),
        "normal + 10 sd on 5% of seeds, recentred (one-sided outliers)": rng.standard_normal(shape)
        + np.where(rng.random(shape) < 0.05, 10.0, 0.0)
        - 0.5,
    }
    se = 3 * np.sqrt(alpha * (1 - alpha) / sims)
    lines = [
        f"Null (true mean difference 0), a look after every seed n = 2..{max_seeds}, "
        f"α = {alpha}, {sims} simulations (±{se:.3f} = 3 MC s.e. at α):",
        "",
        "| noise of the paired difference | sequential false decisions | naive repeated t-test "
        "(p < α at any look) | single t-test at n = max |",
        "|---|---|---|---|",
    ]
    for name, diffs in noises.items():
        final, _ = simulate(diffs, alpha=alpha)
        naive = naive_peeking(diffs, alpha)
        single = naive_peeking(diffs, alpha, first_look=max_seeds)
        lines.append(
            f"| {name} | {np.mean(final > 0):.4f} | {np.mean(naive):.4f} | {np.mean(single):.4f} |"
        )
    return lines


def effect_table(
    rng: np.random.Generator, sims: int, max_seeds: int, alpha: float, m: int
) -> tuple[list[str], dict[float, tuple[float, float]]]:
    level = alpha / m
    lines = [
        f"Directional decisions, m = {m} comparison(s) (level α/m = {level:.4f}), "
        f"max {max_seeds} seeds, {sims} simulations per row:",
        "",
        "| δ (sd units) | P(correct sign) | P(wrong sign) | mean seeds | median seeds | "
        "fixed n, equal power | mean seeds / fixed n | fixed n, 80% power | "
        "power of fixed n = max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for delta in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        diffs = -delta + rng.standard_normal((sims, max_seeds))  # lower is better
        final, used = simulate(diffs, alpha=level)
        power = np.mean(final == BETTER) if delta > 0 else 0.0
        wrong = np.mean(final == WORSE) if delta > 0 else np.mean(final > 0)
        mean_used = used.mean()
        summary[delta] = (power, mean_used)
        if delta > 0 and power > level:
            fixed = fixed_n_equal_power(delta, alpha=level, power=min(power, POWER_CAP))
            fixed80 = fixed_n_equal_power(delta, alpha=level, power=0.8)
            ratio = f"{mean_used / fixed:.2f}" if fixed else "—"
        else:
            fixed, fixed80, ratio = None, None, "—"
        lines.append(
            f"| {delta:g} | {power:.3f} | {wrong:.4f} | {mean_used:.1f} | {np.median(used):g} | "
            f"{fixed if fixed else '—'} | {ratio} | {fixed80 if fixed80 else '—'} | "
            f"{paired_t_power(max_seeds, delta, alpha=level):.3f} |"
        )
    return lines, summary


def equivalence_table(
    rng: np.random.Generator, sims: int, max_seeds: int, alpha: float, m: int, margin: float
) -> list[str]:
    level = alpha / m
    lines = [
        f"Equivalence, margin ±{margin:g} sd, m = {m} (level {level:.4f}), max {max_seeds} seeds:",
        "",
        "| δ (sd units) | P(equivalent) | P(better) | mean seeds | fixed n (TOST), equal power "
        "| mean seeds / fixed n |",
        "|---|---|---|---|---|---|",
    ]
    for delta in (0.0, 0.25, 0.5, margin):
        diffs = -delta + rng.standard_normal((sims, max_seeds))
        final, used = simulate(diffs, alpha=level, margin=margin)
        p_eq = np.mean(final == EQUIVALENT)
        fixed = None
        if delta < margin and p_eq > level:
            fixed = fixed_n_equal_power(
                delta, alpha=level, power=min(p_eq, POWER_CAP), margin=margin
            )
        ratio = f"{used.mean() / fixed:.2f}" if fixed else "—"
        lines.append(
            f"| {delta:g} | {p_eq:.4f} | {np.mean(final == BETTER):.3f} | {used.mean():.1f} | "
            f"{fixed if fixed else '—'} | {ratio} |"
        )
    return lines


def equal_power_fixed_n(
    final: np.ndarray,
    effects: tuple[float, ...],
    *,
    level: float,
    margin: float,
    decided: tuple[int, int],
    power_floor: float = 0.0,
) -> list[int]:
    """Each comparison's fixed n at the power the sequential design reached: the t-test for
    δ > 0, the TOST against ``margin`` for δ = 0. ``decided`` are the codes that count as
    reaching the right decision (for δ > 0, for δ = 0); the power is capped at POWER_CAP and
    raised to ``power_floor``."""
    fixed = []
    for j, delta in enumerate(effects):
        target = decided[0] if delta > 0 else decided[1]
        power = min(max(np.mean(final[:, j] == target), power_floor), POWER_CAP)
        fixed.append(
            fixed_n_equal_power(
                delta, alpha=level, power=power, margin=None if delta > 0 else margin
            )
        )
    return fixed


def study_table(rng: np.random.Generator, sims: int, max_seeds: int, alpha: float) -> list[str]:
    """Whole studies of 3 variants + baseline; the baseline runs until the last one stops."""
    margin = 1.0
    level = alpha / 3
    studies = {
        "clear (δ = 2, 1.5, 1)": (2.0, 1.5, 1.0),
        "mixed (δ = 2, 1, 0)": (2.0, 1.0, 0.0),
        "subtle (δ = 1, 0.5, 0)": (1.0, 0.5, 0.0),
    }
    lines = [
        f"Whole studies: baseline + 3 variants, α = {alpha} family-wise, equivalence margin "
        f"±{margin:g} sd, max {max_seeds} seeds. Runs = Σ variant seeds + baseline seeds "
        "(the baseline runs as long as its longest comparison). The fixed design gives each "
        "comparison the n of equal power (t-test, or TOST for δ = 0) and the baseline the "
        "largest of them.",
        "",
        "| study | decided (all 3) | mean runs, sequential | runs, fixed design "
        "(equal power) | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, effects in studies.items():
        diffs = np.stack([-d + rng.standard_normal((sims, max_seeds)) for d in effects], axis=1)
        final, used = simulate(diffs, alpha=level, margin=margin)
        runs = used.sum(axis=1) + used.max(axis=1)
        fixed = equal_power_fixed_n(
            final, effects, level=level, margin=margin, decided=(BETTER, EQUIVALENT)
        )
        fixed_runs = sum(fixed) + max(fixed)
        lines.append(
            f"| {name} | {np.mean((final > 0).all(axis=1)):.3f} | {runs.mean():.1f} | "
            f"{fixed_runs} ({', '.join(map(str, fixed))} + {max(fixed)}) | "
            f"{runs.mean() / fixed_runs:.2f} |"
        )
    return lines


def prior_table(rng: np.random.Generator, sims: int, max_seeds: int, alpha: float) -> list[str]:
    lines = [
        f"Sensitivity to the prior variance g (single comparison, α = {alpha}, "
        f"max {max_seeds} seeds): mean seeds (power)",
        "",
        "| g | δ = 0.5 | δ = 1 | δ = 2 | δ = 0, margin 1 sd (P equivalent) |",
        "|---|---|---|---|---|",
    ]
    z = rng.standard_normal((sims, max_seeds))
    for g in (0.5, 1.0, 2.0, 4.0, 8.0):
        cells = []
        for delta in (0.5, 1.0, 2.0):
            final, used = simulate(-delta + z, alpha=alpha, effect_prior_variance=g)
            cells.append(f"{used.mean():.1f} ({np.mean(final == BETTER):.2f})")
        final, used = simulate(z, alpha=alpha, margin=1.0, effect_prior_variance=g)
        cells.append(f"{used.mean():.1f} ({np.mean(final == EQUIVALENT):.2f})")
        lines.append(f"| {g:g} | " + " | ".join(cells) + " |")
    return lines


def shared_baseline_differences(
    rng: np.random.Generator, sims: int, effects: tuple[float, ...], seeds: int
) -> np.ndarray:
    """(sims, m, seeds) paired differences variant − baseline with means −effects (lower is
    better) and sd 1, the m comparisons sharing the baseline's runs (correlation 1/2)."""
    base = rng.standard_normal((sims, 1, seeds))
    noise = (rng.standard_normal((sims, len(effects), seeds)) - base) / np.sqrt(2.0)
    return -np.asarray(effects)[None, :, None] + noise


def effect_at_80(n: int, level: float) -> float:
    """The standardized effect a fixed n-seed paired t-test at ``level`` detects with 80 %."""
    return minimum_detectable_effect(1.0, n, alpha=level, power=0.8, paired=True)


def gs_null_table(rng: np.random.Generator, sims: int, alpha: float) -> list[str]:
    lines = [
        f"Group-sequential, global null: baseline + m variants, all equal; looks after every "
        f"seed n = 2..N; family-wise error = P(any efficacy crossing) with futility ignored "
        f"(non-binding), α = {alpha}, {sims} simulations "
        f"(±{3 * np.sqrt(alpha * (1 - alpha) / sims):.4f}"
        " = 3 MC s.e. at α):",
        "",
        "| N | m | family-wise error, futility ignored | with futility obeyed |",
        "|---|---|---|---|",
    ]
    for n_max in (10, 30):
        for m in (1, 3):
            design = GroupSequentialDesign(max_seeds=n_max, alpha=alpha, comparisons=m)
            base = rng.standard_normal((sims, 1, n_max))
            diffs = rng.standard_normal((sims, m, n_max)) - base
            final, _, crossed = simulate_decisions(diffs, design)
            obeyed = np.isin(final, (EFFICACY_BETTER, EFFICACY_WORSE)).any(axis=1)
            lines.append(
                f"| {n_max} | {m} | {crossed.any(axis=1).mean():.4f} | {obeyed.mean():.4f} |"
            )
    return lines


def gs_budget_table(rng: np.random.Generator, sims: int, alpha: float) -> list[str]:
    lines = [
        "Group-sequential at a budget N (one comparison at level α/m, looks after every seed, "
        "default futility margin): δ80 = the effect a fixed N-seed paired t-test at α/m detects "
        f"with 80 % power; {sims} simulations per cell. Targets: power ratio ≥ 0.95, runs at "
        "δ80 ≤ 0.75 N, runs under the null ≤ 0.8 N.",
        "",
        "| N | m | δ80 | power, fixed N | power, group-sequential | ratio | mean seeds at δ80 "
        "(/ N) | mean seeds at δ = 0 (/ N) | P(futility stop) at δ = 0 | P(false efficacy) at "
        "δ = 0 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n_max in (10, 30):
        for m in (1, 3):
            design = GroupSequentialDesign(max_seeds=n_max, alpha=alpha, comparisons=m)
            delta = effect_at_80(n_max, design.level)
            fixed_power = float(paired_t_power(n_max, delta, alpha=design.level))
            final, used, _ = simulate_decisions(-delta + rng.standard_normal((sims, n_max)), design)
            power = float(np.mean(final == EFFICACY_BETTER))
            final0, used0, _ = simulate_decisions(rng.standard_normal((sims, n_max)), design)
            lines.append(
                f"| {n_max} | {m} | {delta:.3f} | {fixed_power:.3f} | {power:.3f} | "
                f"{power / fixed_power:.3f} | {used.mean():.2f} ({used.mean() / n_max:.3f}) | "
                f"{used0.mean():.2f} ({used0.mean() / n_max:.3f}) | "
                f"{np.mean(final0 == FUTILITY):.3f} | "
                f"{np.mean(np.isin(final0, (EFFICACY_BETTER, EFFICACY_WORSE))):.4f} |"
            )
    return lines


def gs_study_table(rng: np.random.Generator, sims: int, max_seeds: int, alpha: float) -> list[str]:
    """The whole studies of :func:`study_table` under the group-sequential design."""
    margin = 1.0
    design = GroupSequentialDesign(max_seeds=max_seeds, alpha=alpha, comparisons=3, margin=margin)
    level = design.level
    studies = {
        "clear (δ = 2, 1.5, 1)": ((2.0, 1.5, 1.0), 63),
        "mixed (δ = 2, 1, 0)": ((2.0, 1.0, 0.0), 64),
        "subtle (δ = 1, 0.5, 0)": ((1.0, 0.5, 0.0), 70),
    }
    lines = [
        f"Whole studies, group-sequential (budget {max_seeds}, α = {alpha} family-wise, "
        f"futility against the margin ±{margin:g} sd at level {design.futility_error:.4f}): "
        "runs as "
        "in the anytime table; the fixed design gives each comparison the n of equal power "
        "(t-test at α/m for δ > 0; for δ = 0 the TOST at α/m matched to P(stopped for "
        "futility)), and the anytime table's fixed design is set beside it.",
        "",
        "| study | all 3 stopped by a boundary | mean runs, group-sequential | runs, fixed "
        "design (equal power) | ratio | ratio to the anytime table's fixed design |",
        "|---|---|---|---|---|---|",
    ]
    for name, (effects, old_fixed) in studies.items():
        diffs = shared_baseline_differences(rng, sims, effects, max_seeds)
        final, used, _ = simulate_decisions(diffs, design)
        runs = used.sum(axis=1) + used.max(axis=1)
        fixed = equal_power_fixed_n(
            final,
            effects,
            level=level,
            margin=margin,
            decided=(EFFICACY_BETTER, FUTILITY),
            power_floor=level * 1.01,
        )
        fixed_runs = sum(fixed) + max(fixed)
        lines.append(
            f"| {name} | {np.mean((final > 0).all(axis=1)):.3f} | {runs.mean():.1f} | "
            f"{fixed_runs} ({', '.join(map(str, fixed))} + {max(fixed)}) | "
            f"{runs.mean() / fixed_runs:.3f} | {runs.mean() / old_fixed:.3f} (of {old_fixed}) |"
        )
    # Without a stated margin the design recycles (Holm) and a δ = 0 comparison stops for
    # futility against the default margin, claiming nothing: fewer claims than the fixed
    # designs above make, so only the runs are set beside them.
    holm = GroupSequentialDesign(max_seeds=max_seeds, alpha=alpha, comparisons=3)
    for name, (effects, old_fixed) in studies.items():
        diffs = shared_baseline_differences(rng, sims, effects, max_seeds)
        final, used, _ = simulate_decisions(diffs, holm)
        runs = used.sum(axis=1) + used.max(axis=1)
        real = np.asarray(effects) > 0
        lines.append(
            f"| {name}, no margin (Holm; δ = 0 claims nothing) | "
            f"{np.mean(final[:, real] == EFFICACY_BETTER):.3f} (power) | {runs.mean():.1f} | — | "
            f"— | {runs.mean() / old_fixed:.3f} (of {old_fixed}) |"
        )
    return lines


def gs_study_spending_table(
    rng: np.random.Generator, sims: int, max_seeds: int, alpha: float
) -> list[str]:
    """Whether any spending function brings the whole studies to 0.75 of the anytime table's
    fixed designs: the studies of :func:`gs_study_table` (margin ±1 sd) from the default to
    Pocock-like spending, each with what it costs in power at the budget (N, m = 3, δ80)."""
    margin = 1.0
    choices = [("hsd", -4.0), ("hsd", -2.0), ("hsd", 0.0), ("hsd", 2.0), ("pocock", None)]
    studies = {"clear": ((2.0, 1.5, 1.0), 63), "mixed": ((2.0, 1.0, 0.0), 64)}
    lines = [
        f"Whole studies by efficacy spending (budget {max_seeds}, margin ±{margin:g} sd, "
        f"{sims} simulations per cell): runs / the anytime table's fixed design, the mean seeds "
        "of each comparison in the mixed study, and the power ratio at the budget "
        f"(N = {max_seeds}, m = 3, δ80, default futility) that the spending pays:",
        "",
        "| spending | clear: runs / 63 | mixed: runs / 64 | mixed: mean seeds δ = 2, 1, 0 "
        "(baseline) | power ratio at the budget |",
        "|---|---|---|---|---|",
    ]
    for function, parameter in choices:
        design = GroupSequentialDesign(
            max_seeds=max_seeds,
            alpha=alpha,
            comparisons=3,
            margin=margin,
            spending=function,  # type: ignore[arg-type]
            spending_parameter=parameter,
        )
        cells = []
        for effects, fixed_runs in studies.values():
            diffs = shared_baseline_differences(rng, sims, effects, max_seeds)
            _, used, _ = simulate_decisions(diffs, design)
            runs = used.sum(axis=1) + used.max(axis=1)
            cells.append((runs.mean() / fixed_runs, used.mean(axis=0), used.max(axis=1).mean()))
        budget = replace(design, margin=None)
        delta = effect_at_80(max_seeds, budget.level)
        final, _, _ = simulate_decisions(-delta + rng.standard_normal((sims, max_seeds)), budget)
        ratio = np.mean(final == EFFICACY_BETTER) / paired_t_power(
            max_seeds, delta, alpha=budget.level
        )
        seeds = ", ".join(f"{v:.1f}" for v in cells[1][1])
        name = function if parameter is None else f"{function} γ = {parameter:g}"
        lines.append(
            f"| {name} | {cells[0][0]:.3f} | {cells[1][0]:.3f} | {seeds} ({cells[1][2]:.1f}) | "
            f"{float(ratio):.3f} |"
        )
    return lines


def gs_holm_table(rng: np.random.Generator, sims: int, alpha: float) -> list[str]:
    """Holm's recycling with m = 3 comparisons sharing the baseline: its error when some
    effects are real (partial nulls) and the power it adds, against fixed N-seed t-tests with
    Bonferroni (α/3 each) and with Holm."""
    m = 3
    lines = [
        "Holm's recycling (m = 3 comparisons sharing the baseline's runs, no stated margin, "
        f"looks after every seed; {sims} simulations per row; the fixed N-seed paired t-tests "
        "use the same data, with Bonferroni α/3 and with Holm). Error = P(any efficacy "
        "crossing on a δ = 0 comparison), futility ignored:",
        "",
        "| N | effects (sd units) | error, Holm | power per real effect: group-sequential Holm "
        "| fixed N, Bonferroni | fixed N, Holm | mean seeds per real effect (/ N) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_max in (10, 30):
        design = GroupSequentialDesign(max_seeds=n_max, alpha=alpha, comparisons=m)
        d80 = effect_at_80(n_max, design.level)
        for effects in ((d80, d80, d80), (d80, 0.0, 0.0), (3 * d80, 3 * d80, 0.0)):
            diffs = shared_baseline_differences(rng, sims, effects, n_max)
            final, used, crossed = simulate_decisions(diffs, design)
            real = np.asarray(effects) > 0
            error = crossed[:, ~real].any(axis=1).mean() if (~real).any() else math.nan
            mean, sd = running_mean_sd(diffs)
            p = 2 * stats.t.sf(np.abs(mean[..., -1]) / (sd[..., -1] / np.sqrt(n_max)), n_max - 1)
            better = mean[..., -1] < 0
            bonferroni = (p <= design.level) & better
            # Holm step-down: the j-th smallest p-value (j = 0, 1, ...) against α/(m − j)
            rank = np.argsort(np.argsort(p, axis=1), axis=1)
            passes = np.sort(p, axis=1) <= alpha / (m - np.arange(m))
            steps = np.cumprod(passes, axis=1).sum(axis=1)
            holm = (rank < steps[:, None]) & better
            lines.append(
                f"| {n_max} | {', '.join(f'{e:.2f}' for e in effects)} | "
                + (f"{error:.4f}" if real.sum() < m else "—")
                + f" | {np.mean(final[:, real] == EFFICACY_BETTER):.3f} | "
                f"{bonferroni[:, real].mean():.3f} | {holm[:, real].mean():.3f} | "
                f"{used[:, real].mean() / n_max:.3f} |"
            )
    return lines


def gs_spending_table(rng: np.random.Generator, sims: int, alpha: float) -> list[str]:
    """Why HSD γ = −4: power ratio and mean seeds at δ80 across spending functions."""
    choices = [
        ("obrien-fleming", None),
        ("hsd", -6.0),
        ("hsd", -5.0),
        ("hsd", -4.0),
        ("hsd", -3.0),
        ("hsd", -2.0),
        ("hsd", 0.0),
        ("pocock", None),
    ]
    cells = [(n, m) for n in (10, 30) for m in (1, 3)]
    lines = [
        "Choosing the efficacy spending function (default futility; cells: power ratio to the "
        f"fixed N-seed t-test / mean seeds at δ80 as a fraction of N; {sims} simulations each):",
        "",
        "| spending | " + " | ".join(f"N = {n}, m = {m}" for n, m in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for function, parameter in choices:
        row = []
        for n_max, m in cells:
            design = GroupSequentialDesign(
                max_seeds=n_max,
                alpha=alpha,
                comparisons=m,
                spending=function,  # type: ignore[arg-type]
                spending_parameter=parameter,
            )
            delta = effect_at_80(n_max, design.level)
            final, used, _ = simulate_decisions(-delta + rng.standard_normal((sims, n_max)), design)
            ratio = np.mean(final == EFFICACY_BETTER) / paired_t_power(
                n_max, delta, alpha=design.level
            )
            row.append(f"{float(ratio):.3f} / {used.mean() / n_max:.2f}")
        name = function if parameter is None else f"{function} γ = {parameter:g}"
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=20_000)
    parser.add_argument("--max-seeds", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--only", choices=("anytime", "group-sequential"), default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    # The group-sequential sections draw from their own generator, so adding them left the
    # anytime figures (and their docs) unchanged.
    gs_rng = np.random.default_rng([args.seed, 24])
    sections = []
    if args.only in (None, "anytime"):
        sections += [
            null_table(rng, args.sims, 20, args.alpha),
            effect_table(rng, args.sims, args.max_seeds, args.alpha, m=1)[0],
            effect_table(rng, args.sims, args.max_seeds, args.alpha, m=3)[0],
            equivalence_table(rng, args.sims, args.max_seeds, args.alpha, m=1, margin=1.0),
            equivalence_table(rng, args.sims, args.max_seeds, args.alpha, m=3, margin=1.0),
            study_table(rng, args.sims, args.max_seeds, args.alpha),
            prior_table(rng, args.sims, args.max_seeds, args.alpha),
        ]
    if args.only in (None, "group-sequential"):
        sections += [
            gs_null_table(gs_rng, args.sims, args.alpha),
            gs_budget_table(gs_rng, args.sims, args.alpha),
            gs_holm_table(gs_rng, args.sims, args.alpha),
            gs_study_table(gs_rng, args.sims, args.max_seeds, args.alpha),
            gs_spending_table(gs_rng, args.sims // 2, args.alpha),
            gs_study_spending_table(gs_rng, args.sims // 2, args.max_seeds, args.alpha),
        ]
    for lines in sections:
        print("\n".join(lines), end="\n\n")
    print(f"({time.perf_counter() - start:.1f} s, numpy rng seed {args.seed})")


if __name__ == "__main__":
    main()
