"""Issue 32, item 6: ``compare --over-steps`` at 3-8 seeds, where sign flips cannot reach the
level (or have too few patterns in their tail) and the band is Bonferroni-t over checkpoints,
and where the sign-flip band takes over (analysis.over_steps).

Per seed and variant, the difference curve variant - baseline is AR(1) noise (sd 1, lag-1
correlation rho) plus ``effect`` from step ``onset`` on. Printed per cell, with the Monte-Carlo
standard error:

- null (every variant identical to the baseline): the family-wise false separation, the share
  of studies in which any variant's band excludes zero at any step it covers (which includes
  any ``separated_from``);
- a late gap of ``effect`` noise sds from step 150 of 200 (every variant): the share of
  variants given a ``separated_from``, and of those placed before the onset.

Usage::

    python benchmarks/over_steps_few_seeds.py [--studies 2000] [--seed 32]
        [--null-seeds 3 4 5 6 7 8] [--gap-seeds 5 6 7 8]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import polars as pl

from analysis import compare_over_steps

ALPHA = 0.05


def study(
    rng: np.random.Generator,
    *,
    seeds: int,
    variants: int,
    steps: int,
    rho: float,
    effect: float = 0.0,
    onset: int = 0,
) -> pl.DataFrame:
    base = 3 + 0.5 * rng.standard_normal((seeds, 1)) + 2 / (1 + np.arange(steps))
    curves = {"base": base}
    for v in range(variants):
        noise = np.empty((seeds, steps))
        noise[:, 0] = rng.standard_normal(seeds)
        for step in range(1, steps):
            fresh = rng.standard_normal(seeds)
            noise[:, step] = rho * noise[:, step - 1] + math.sqrt(1 - rho**2) * fresh
        noise[:, onset:] += effect
        curves[f"v{v}"] = base + noise
    return pl.concat(
        pl.DataFrame(
            {
                "variant": name,
                "seed": np.repeat(np.arange(seeds), steps),
                "step": np.tile(np.arange(steps), seeds),
                "loss": values.ravel(),
            }
        )
        for name, values in curves.items()
    )


def se(rate: float, n: int) -> float:
    return math.sqrt(max(rate * (1 - rate), 1e-12) / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=32)
    parser.add_argument("--null-seeds", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8])
    parser.add_argument("--gap-seeds", type=int, nargs="+", default=[5, 6, 7, 8])
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# {args.studies} studies per cell, alpha {ALPHA}, seed {args.seed}")
    print("## identical curves, 100 steps: family-wise false separation")
    print("| seeds | variants | rho | band method | false separation |")
    print("|---|---|---|---|---|")
    for seeds in args.null_seeds:
        for variants in (1, 2):
            for rho in (0.5, 0.99):
                rng = np.random.default_rng([args.seed, seeds, variants, int(rho * 100)])
                false, methods = 0, set()
                for _ in range(args.studies):
                    result = compare_over_steps(
                        study(rng, seeds=seeds, variants=variants, steps=100, rho=rho),
                        metric="loss", baseline="base", alpha=ALPHA, rng=rng,
                    )  # fmt: skip
                    frame = result.to_frame().drop_nulls("band_low")
                    false += bool(((frame["band_low"] > 0) | (frame["band_high"] < 0)).any())
                    methods |= {v.band_method for v in result.variants}
                rate = false / args.studies
                print(
                    f"| {seeds} | {variants} | {rho} | {'/'.join(sorted(methods))} | "
                    f"{rate:.4f} (± {se(rate, args.studies):.4f}) |",
                    flush=True,
                )
    print()
    print("## a gap of 4 noise sd from step 150 of 200 (rho 0.9), every variant")
    print("| seeds | variants | band method | separated_from found | of them before 150 |")
    print("|---|---|---|---|---|")
    for seeds in args.gap_seeds:
        for variants in (1, 2):
            rng = np.random.default_rng([args.seed, seeds, variants, 150])
            found, early, methods = 0, 0, set()
            for _ in range(args.studies):
                result = compare_over_steps(
                    study(rng, seeds=seeds, variants=variants, steps=200, rho=0.9,
                          effect=4.0, onset=150),
                    metric="loss", baseline="base", alpha=ALPHA, rng=rng,
                )  # fmt: skip
                for v in result.variants:
                    found += v.separated_from is not None
                    early += v.separated_from is not None and v.separated_from < 150
                    methods.add(v.band_method)
            total = args.studies * variants
            rate = found / total
            print(
                f"| {seeds} | {variants} | {'/'.join(sorted(methods))} | {rate:.4f} "
                f"(± {se(rate, total):.4f}) | {early / max(found, 1):.4f} |",
                flush=True,
            )
    print(f"\n# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
