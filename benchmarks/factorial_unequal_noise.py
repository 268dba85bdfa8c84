"""Issue 32, item 2, for the factorial model: false claims, coverage and power of
``analysis.factorial`` when one cell is noisier than the others, and the covariance estimators
that were candidates for it.

A 2 x 2 factorial on 6 seeds: ``3 + seed effect (sd 1) + noise``, noise sd 0.05 in every cell
but (A1, B1), whose noise is ``ratio`` x 0.05; ``lost`` removes that cell's runs on the first
``lost`` seeds (0, 1 or 2; ``--lost`` picks which are run).

- false claims (no effect at all): any effect verdict other than indistinguishable or
  equivalent (Holm over A, B, A:B at alpha = 0.05);
- coverage: of the A:B interaction's 95 % CI;
- power (equal noise): A's main effect of 1.2 noise sd, the share of studies calling it.

The first table is ``analysis.factorial`` itself (cell variances since issue 32). The second
runs the candidates on the same studies, straight from the least-squares fit: ``pooled`` (one
residual variance, lm's summary: the model before), ``cells`` (one variance per cell, unbiased,
Satterthwaite df: the method chosen), ``HC2_bm`` (HC2 with Bell-McCaffrey df) and ``HC3_res``
(HC3 with the residual df, R's ``coeftest(fit, vcovHC(fit))``).

Usage::

    python benchmarks/factorial_unequal_noise.py [--studies 2000] [--seed 32] [--lost 0 1 2]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from analysis import factorial_values, stats
from analysis.distributions import t_quantile, t_two_sided_p
from analysis.unequal_variances import (
    contrasts_with_group_variances,
    fit_group_variances,
    hc_covariance,
)

SEEDS = 6
NOISE_SD = 0.05
EFFECT_SD = 1.2
FACTORS = {"A": ["0", "1"], "B": ["0", "1"]}
CANDIDATES = ("pooled", "cells", "HC2_bm", "HC3_res")


def study(
    rng: np.random.Generator, ratio: float, lost: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells ``(n, 2)``, seeds and values of one study; A's second level adds ``shift``."""
    seed_effect = rng.normal(0.0, 1.0, SEEDS)
    cells, seeds, values = [], [], []
    for seed in range(SEEDS):
        for a in (0, 1):
            for b in (0, 1):
                if (a, b) == (1, 1) and seed < lost:
                    continue
                sd = NOISE_SD * (ratio if (a, b) == (1, 1) else 1.0)
                cells.append((a, b))
                seeds.append(seed)
                values.append(3.0 + seed_effect[seed] + shift * a + rng.normal(0.0, sd))
    return np.array(cells), np.array(seeds), np.array(values)


def candidate_tests(
    cells: np.ndarray, seeds: np.ndarray, y: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p-values and 95 % CIs of A, B and A:B (effect-coded least squares, seed intercepts)."""
    n = len(y)
    coded = 2.0 * cells - 1.0
    x = np.column_stack([seeds[:, None] == np.arange(SEEDS), coded, coded[:, 0] * coded[:, 1]])
    x = x.astype(float)
    rows = np.zeros((3, x.shape[1]))
    rows[0, SEEDS], rows[1, SEEDS + 1], rows[2, SEEDS + 2] = 2.0, 2.0, 4.0  # effects
    bread = np.linalg.pinv(x.T @ x)
    weights = rows @ bread @ x.T
    estimate = weights @ y
    maker = np.eye(n) - x @ bread @ x.T
    residual = maker @ y
    rank = np.linalg.matrix_rank(x)
    if method == "pooled":
        variance = residual @ residual / (n - rank) * (weights**2).sum(axis=1)
        df = np.full(3, float(n - rank))
    elif method == "cells":
        fit = fit_group_variances(x, y, cells[:, 0] * 2 + cells[:, 1])
        test = contrasts_with_group_variances(fit, rows)
        variance, df = test.std_error**2, test.df
    else:
        kind = "HC2" if method == "HC2_bm" else "HC3"
        variance = np.einsum("ij,jk,ik->i", rows, hc_covariance(x, residual, kind), rows)
        if method == "HC2_bm":  # Bell-McCaffrey: the HC2 form's df under equal variances
            leverage = 1.0 - np.diag(maker)
            d = weights**2 / (1.0 - leverage)[None, :]
            df = (d @ np.diag(maker)) ** 2 / np.einsum("mi,ij,mj->m", d, maker**2, d)
        else:
            df = np.full(3, float(n - rank))
    std_error = np.sqrt(variance)
    half = t_quantile(0.975, df) * std_error
    return t_two_sided_p(estimate / std_error, df), estimate - half, estimate + half


def rate(hits: int, n: int) -> str:
    p = hits / n
    return f"{p:.4f} (± {math.sqrt(max(p * (1 - p), 1e-12) / n):.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=32)
    parser.add_argument("--lost", type=int, nargs="+", default=[0, 1, 2], choices=[0, 1, 2])
    args = parser.parse_args()
    n = args.studies
    started = time.perf_counter()
    print(f"# {n} studies per cell, 2 x 2 on {SEEDS} seeds, alpha 0.05; ± is the MC se")
    print("\n## analysis.factorial\n")
    print("| noise ratio of one cell | lost run | false claims | A:B CI coverage |")
    print("|---|---|---|---|")
    candidate_rows = []
    for ratio in (1.0, 2.0, 3.0, 5.0):
        for lost in args.lost:
            rng = np.random.default_rng([args.seed, int(ratio), lost])
            claims = covered = 0
            cand_claims = dict.fromkeys(CANDIDATES, 0)
            cand_covered = dict.fromkeys(CANDIDATES, 0)
            for _ in range(n):
                cells, seeds, y = study(rng, ratio, lost)
                result = factorial_values(cells, seeds, y, factors=FACTORS)
                claims += any(
                    e.verdict not in ("indistinguishable", "equivalent") for e in result.effects
                )
                interaction = result.effect("A:B")
                covered += interaction.ci_low <= 0.0 <= interaction.ci_high
                for method in CANDIDATES:
                    p, low, high = candidate_tests(cells, seeds, y, method)
                    cand_claims[method] += bool(
                        (stats.holm(np.nan_to_num(p, nan=1.0)) <= 0.05).any()
                    )
                    cand_covered[method] += bool(low[2] <= 0.0 <= high[2])
            print(
                f"| {ratio:g} | {int(lost)} | {rate(claims, n)} | {rate(covered, n)} |", flush=True
            )
            candidate_rows.append(
                f"| {ratio:g} | {int(lost)} | "
                + " | ".join(
                    f"{rate(cand_claims[m], n)} / {cand_covered[m] / n:.4f}" for m in CANDIDATES
                )
                + " |"
            )
    power_rows = []
    for lost in args.lost:
        rng = np.random.default_rng([args.seed, 7, lost])
        found = 0
        cand_found = dict.fromkeys(CANDIDATES, 0)
        for _ in range(n):
            cells, seeds, y = study(rng, 1.0, lost, shift=EFFECT_SD * NOISE_SD)
            result = factorial_values(cells, seeds, y, factors=FACTORS, direction="maximize")
            found += result.effect("A").verdict == "better"
            for method in CANDIDATES:
                p, _, _ = candidate_tests(cells, seeds, y, method)
                cand_found[method] += bool(stats.holm(np.nan_to_num(p, nan=1.0))[0] <= 0.05)
        print(f"\npower, equal noise, lost {int(lost)}, A = {EFFECT_SD} noise sd: {rate(found, n)}")
        power_rows.append(
            f"| power, lost {int(lost)} | "
            + " | ".join(rate(cand_found[m], n) for m in CANDIDATES)
            + " |"
        )
    print("\n## candidates (false claims / A:B coverage; then power)\n")
    print("| ratio | lost | " + " | ".join(CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    print("\n".join(candidate_rows))
    print("\n".join(power_rows))
    print(f"\n# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
