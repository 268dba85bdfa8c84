"""False-claim rates of ``analysis.compare`` / ``sequential_compare`` on messy null studies
(issue 18): rounded metrics, seeds missing at random, divergence unrelated to the variant;
and the power to find a paired effect when a third variant ran on one seed only.

Studies mimic ablations: ``3 + seed effect (sd 1) + noise (sd 0.05)``, every variant equal
(global null), 3 variants unless said otherwise. A "false claim" is any verdict other than
indistinguishable or more than one tier. Prints one line per scenario with the rate, its
Monte-Carlo standard error and the one-sided 99 % upper bound.

Usage::

    python benchmarks/messy_null_rates.py [--studies 2000] [--seed 18]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import numpy as np
import polars as pl

from analysis import compare_values, sequential_compare

ALPHA = 0.05
SEED_SD = 1.0
NOISE_SD = 0.05
NAMES = ["base", "a", "b"]


def null_values(rng: np.random.Generator, n_seeds: int, k: int = 3) -> np.ndarray:
    seed_effect = rng.normal(0.0, SEED_SD, (1, n_seeds))
    return 3.0 + seed_effect + rng.normal(0.0, NOISE_SD, (k, n_seeds))


def claims(result) -> bool:  # type: ignore[no-untyped-def]
    return len(result.tiers) > 1 or any(
        c.verdict != "indistinguishable" for c in result.comparisons
    )


def line(label: str, hits: int, studies: int) -> str:
    rate = hits / studies
    se = np.sqrt(max(rate * (1 - rate), 1e-12) / studies)
    return f"{label:<62} {rate:.4f}  (MC se {se:.4f}; 99% upper {rate + 2.33 * se:.4f})"


def rounded(rng: np.random.Generator, studies: int, n_seeds: int, step: float) -> int:
    hits = 0
    for _ in range(studies):
        values = np.round(null_values(rng, n_seeds) / step) * step
        hits += claims(compare_values(values, NAMES, alpha=ALPHA))
    return hits


def missing(rng: np.random.Generator, studies: int, n_seeds: int) -> int:
    hits = 0
    for _ in range(studies):
        values = null_values(rng, n_seeds)
        rate = rng.uniform(0.0, 0.5, (len(NAMES), 1))  # each variant loses 0-50 % of seeds
        values[rng.uniform(size=values.shape) < rate] = np.nan
        if (np.isfinite(values).sum(axis=1) < 2).any():
            values[:, :2] = null_values(rng, 2)  # keep every variant comparable
        hits += claims(compare_values(values, NAMES, alpha=ALPHA))
    return hits


def diverging(rng: np.random.Generator, studies: int, n_seeds: int, rate: float) -> tuple[int, int]:
    hits = divergence_findings = 0
    for _ in range(studies):
        values = null_values(rng, n_seeds)
        lost = rng.uniform(size=values.shape) < rate
        if (np.sum(~lost, axis=1) < 2).any():
            lost[:, :2] = False
        values[lost] = np.nan
        status = np.where(lost, "diverged", "done").astype(object)
        result = compare_values(values, NAMES, alpha=ALPHA, status=status)
        hits += claims(result)
        divergence_findings += bool(result.divergence_test and result.divergence_test.significant)
    return hits, divergence_findings


def sequential_rounded(rng: np.random.Generator, studies: int, n_seeds: int, step: float) -> int:
    hits = 0
    for _ in range(studies):
        values = np.round(null_values(rng, n_seeds) / step) * step
        frame = pl.DataFrame(
            {
                "variant": np.repeat(NAMES, n_seeds),
                "seed": np.tile(np.arange(n_seeds), len(NAMES)),
                "y": values.ravel(),
            }
        )
        report = sequential_compare(frame, metric="y", baseline="base", alpha=ALPHA, margin=0.05)
        hits += any(c.result.verdict in ("better", "worse") for c in report.comparisons)
    return hits


def straggler_power(rng: np.random.Generator, studies: int) -> int:
    found = 0
    for _ in range(studies):
        values = np.full((3, 6), np.nan)
        values[:2] = null_values(rng, 6, k=2)
        values[1] += 5 * NOISE_SD
        values[2, 0] = values[0, 0] + rng.normal(0.0, NOISE_SD)
        result = compare_values(values, NAMES, alpha=ALPHA)
        found += result.comparisons[0].verdict == "worse"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.studies
    start = time.perf_counter()
    print(
        f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}"
    )
    print(f"# python benchmarks/messy_null_rates.py --studies {n} --seed {args.seed}")
    print(f"# global null, {len(NAMES)} variants, alpha {ALPHA}, Holm; rate of any false claim")
    for step_sd in (0.5, 1.0):
        for n_seeds in (2, 3, 5):
            hits = rounded(rng, n, n_seeds, step_sd * NOISE_SD)
            print(line(f"rounded to {step_sd:g} noise sd, {n_seeds} seeds", hits, n))
    for n_seeds in (4, 8):
        hits = missing(rng, n, n_seeds)
        print(line(f"0-50 % of seeds missing at random, {n_seeds} seeds", hits, n))
    for n_seeds in (5, 8):
        hits, findings = diverging(rng, n, n_seeds, 0.25)
        print(line(f"25 % divergence, same for all variants, {n_seeds} seeds", hits, n))
        print(line(f"  divergence-rate finding (exact test), {n_seeds} seeds", findings, n))
    for step_sd in (0.5, 1.0):
        hits = sequential_rounded(rng, n // 4, 8, step_sd * NOISE_SD)
        print(
            line(f"sequential, rounded to {step_sd:g} noise sd, 8 seeds, margin 1 sd", hits, n // 4)
        )
    found = straggler_power(rng, n // 4)
    print(line("power: effect 5 noise sd on 6 seeds, third variant on 1 seed", found, n // 4))
    print(f"# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
