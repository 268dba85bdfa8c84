"""Issue 32, item 2, still open for the factorial model: false claims and coverage of
``analysis.factorial`` when one cell is noisier than the others.

A 2 x 2 factorial on 6 seeds, no effect at all: ``3 + seed effect (sd 1) + noise``, noise sd
0.05 in every cell but (A1, B1), whose noise is ``ratio`` x 0.05; ``lost`` removes that cell's
run on seed 0. A false claim is any effect verdict other than indistinguishable or equivalent;
coverage is that of the A:B interaction's 95 % CI. The model pools one residual variance over
the cells (docs/statistics.md), which this measures.

Usage::

    python benchmarks/factorial_unequal_noise.py [--studies 2000] [--seed 32]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import polars as pl

from analysis import factorial

SEEDS = 6


def study(rng: np.random.Generator, ratio: float, lost: bool) -> pl.DataFrame:
    seed_effect = rng.normal(0.0, 1.0, SEEDS)
    rows = []
    for seed in range(SEEDS):
        for a in (0, 1):
            for b in (0, 1):
                if lost and (a, b, seed) == (1, 1, 0):
                    continue
                sd = 0.05 * (ratio if (a, b) == (1, 1) else 1.0)
                value = 3.0 + seed_effect[seed] + rng.normal(0.0, sd)
                rows.append({"A": a, "B": b, "seed": seed, "y": value})
    return pl.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=32)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# {args.studies} studies per cell, 2 x 2 on {SEEDS} seeds, alpha 0.05")
    print("| noise ratio of one cell | lost run | false claims | A:B CI coverage |")
    print("|---|---|---|---|")
    for ratio in (1.0, 2.0, 5.0):
        for lost in (False, True):
            rng = np.random.default_rng([args.seed, int(ratio), int(lost)])
            claims = covered = 0
            for _ in range(args.studies):
                result = factorial(
                    study(rng, ratio, lost), factors={"A": [0, 1], "B": [0, 1]}, metric="y"
                )
                claims += any(
                    e.verdict not in ("indistinguishable", "equivalent") for e in result.effects
                )
                interaction = result.effect("A:B")
                covered += interaction.ci_low <= 0.0 <= interaction.ci_high
            rate, coverage = claims / args.studies, covered / args.studies
            se_rate = math.sqrt(rate * (1 - rate) / args.studies)
            se_coverage = math.sqrt(coverage * (1 - coverage) / args.studies)
            print(
                f"| {ratio:g} | {int(lost)} | {rate:.4f} (± {se_rate:.4f}) | "
                f"{coverage:.4f} (± {se_coverage:.4f}) |",
                flush=True,
            )
    print(f"\n# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
