"""Issue 32, item 4: how often comparisons of count metrics are withheld for "unmeasured
noise", before and after the resolution is decided from the data, and whether the rounding
protection still holds for losses logged with 2 decimals.

Null studies of 3 variants (every variant equal), ``compare_values`` at alpha = 0.05:

- counts: errors per run, Poisson with rate ``rate · exp(seed effect)`` (seed effect sd 0.3,
  shared by the variants on a seed). "before" passes ``resolution = grid_step(values)`` (the
  old rule: a count's unit taken as a rounding step, so a one-unit spread withholds), "after"
  the default (counts have no rounding step: only a zero spread withholds);
- rounded losses: ``3 + seed effect (sd 1) + noise (sd 0.01 / ratio)`` rounded to 2 decimals,
  so the rounding step is ``ratio`` noise sds.

A "false claim" is any verdict other than indistinguishable, or more than one tier. Prints the
withheld share of the pairwise comparisons and the false-claim rate per cell, each with its
Monte-Carlo standard error.

Usage::

    python benchmarks/resolution_rates.py [--studies 2000] [--seed 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis import compare_values
from analysis.resolution import grid_step

ALPHA = 0.05
NAMES = ["base", "a", "b"]


def counts(rng: np.random.Generator, n_seeds: int, rate: float) -> np.ndarray:
    seed_factor = np.exp(rng.normal(0.0, 0.3, (1, n_seeds)))
    return rng.poisson(rate * seed_factor, (len(NAMES), n_seeds)).astype(float)


def rounded_loss(rng: np.random.Generator, n_seeds: int, ratio: float) -> np.ndarray:
    values = 3.0 + rng.normal(0.0, 1.0, (1, n_seeds))
    return np.round(values + rng.normal(0.0, 0.01 / ratio, (len(NAMES), n_seeds)), 2)


def tally(results: list) -> tuple[float, float]:  # type: ignore[type-arg]
    withheld = np.mean([c.withheld == "unmeasured_noise" for r in results for c in r.pairwise])
    claims = np.mean(
        [
            len(r.tiers) > 1 or any(c.verdict != "indistinguishable" for c in r.comparisons)
            for r in results
        ]
    )
    return float(withheld), float(claims)


def cell(label: str, withheld: float, claims: float, studies: int, pairs: int) -> str:
    se_w = np.sqrt(max(withheld * (1 - withheld), 1e-12) / (studies * pairs))
    se_c = np.sqrt(max(claims * (1 - claims), 1e-12) / studies)
    return (
        f"{label:<44} withheld {withheld:.3f} (MC se {se_w:.3f})   "
        f"false claims {claims:.4f} (MC se {se_c:.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=32)
    args = parser.parse_args()
    started = time.perf_counter()
    pairs = len(NAMES) * (len(NAMES) - 1) // 2
    print(f"# {args.studies} null studies per cell, alpha {ALPHA}, seed {args.seed}")
    print("## counts (Poisson errors per run)")
    for rate in (0.5, 2.0):
        for n_seeds in (3, 5):
            rng = np.random.default_rng([args.seed, int(rate * 10), n_seeds])
            tables = [counts(rng, n_seeds, rate) for _ in range(args.studies)]
            before = [
                compare_values(v, NAMES, alpha=ALPHA, resolution=grid_step(v)) for v in tables
            ]
            after = [compare_values(v, NAMES, alpha=ALPHA) for v in tables]
            for name, results in (("before", before), ("after", after)):
                label = f"rate {rate:g}, {n_seeds} seeds, {name}"
                print(cell(label, *tally(results), args.studies, pairs))
    print("## losses logged with 2 decimals (step = ratio x noise sd)")
    for ratio in (1.0, 2.0, 4.0):
        for n_seeds in (3, 5):
            rng = np.random.default_rng([args.seed, int(ratio * 10), n_seeds, 1])
            results = [
                compare_values(rounded_loss(rng, n_seeds, ratio), NAMES, alpha=ALPHA)
                for _ in range(args.studies)
            ]
            label = f"step {ratio:g} noise sd, {n_seeds} seeds"
            print(cell(label, *tally(results), args.studies, pairs))
    print(f"# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
