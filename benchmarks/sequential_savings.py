"""Runs used by adaptive seeding (analysis.sequential) against a fixed-n design.

Simulated studies: paired differences (variant − baseline) are i.i.d. normal with mean δ·σ and
sd σ, so δ is the effect in units of the seed-to-seed sd of the paired difference. Each
comparison is looked at after every seed up to --max-seeds, at level α/m (Bonferroni).

"Fixed n at equal power" is the smallest n at which the fixed-n paired t-test (two-sided, same
level α/m) has the power the sequential design reached at that δ (the equivalence rows use the
TOST at level α/m), computed exactly with the noncentral t. It is an oracle: it knows δ, which
the sequential design does not. Powers are capped at 0.99 before matching (above that the
Monte-Carlo estimate is too coarse to invert), which favours the fixed design.

Usage:
    .venv/bin/python benchmarks/sequential_savings.py [--sims 20000] [--max-seeds 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from analysis.sequential import (
    DEFAULT_EFFECT_PRIOR_VARIANCE,
    VERDICT_CODES,
    confidence_sequence,
    decision_path,
    fixed_n_equal_power,
    paired_t_power,
)

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
        fixed = []
        for j, delta in enumerate(effects):
            target = BETTER if delta > 0 else EQUIVALENT
            power = min(np.mean(final[:, j] == target), POWER_CAP)
            fixed.append(
                fixed_n_equal_power(
                    delta, alpha=level, power=power, margin=None if delta > 0 else margin
                )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=20_000)
    parser.add_argument("--max-seeds", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    sections = [
        null_table(rng, args.sims, 20, args.alpha),
        effect_table(rng, args.sims, args.max_seeds, args.alpha, m=1)[0],
        effect_table(rng, args.sims, args.max_seeds, args.alpha, m=3)[0],
        equivalence_table(rng, args.sims, args.max_seeds, args.alpha, m=1, margin=1.0),
        equivalence_table(rng, args.sims, args.max_seeds, args.alpha, m=3, margin=1.0),
        study_table(rng, args.sims, args.max_seeds, args.alpha),
        prior_table(rng, args.sims, args.max_seeds, args.alpha),
    ]
    for lines in sections:
        print("\n".join(lines), end="\n\n")
    print(f"({time.perf_counter() - start:.1f} s, numpy rng seed {args.seed})")


if __name__ == "__main__":
    main()
