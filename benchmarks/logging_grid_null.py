"""Identical curves logged at different intervals (issue 32, item 1): false claims of
``harness compare --agg min | last:K | mean | final`` and false separations of
``harness compare --over-steps`` with and without ``--smoothing``.

Each run's curve is ``loss(step) = 3 + exp(-step / 300) + seed effect (sd 0.2) + noise``
with noise ``N(0, 0.05²)`` drawn independently at every logged point; the baseline logs
every ``--base-every`` steps, the variant every ``--variant-every`` (both from that interval
to step 1000, so a baseline every 30 steps ends at 990 and a variant every 100 at 1000), so
the true curves are identical and every "better"/"worse" or ``separated_from`` is false. One
value per run by ``analysis.aggregate_curves``, then ``analysis.compare`` (paired by seed);
the curves by ``analysis.compare_over_steps`` (a false separation: any ``separated_from``).
Rates ± Monte-Carlo standard error.

Usage:
    .venv/bin/python benchmarks/logging_grid_null.py [--replicates 2000] [--seeds 5]
        [--base-every 10] [--variant-every 100] [--aggs min,last:3,mean,final]
        [--smoothing 0,0.6,0.9]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import polars as pl

from analysis import aggregate_curves, compare, compare_over_steps


def study(
    rng: np.random.Generator, seeds: int, base_every: int, variant_every: int
) -> pl.DataFrame:
    """One study's curves table (``variant``, ``seed``, ``step``, ``loss``)."""
    frames = []
    seed_effect = rng.normal(0.0, 0.2, seeds)
    for variant, every in (("base", base_every), ("v", variant_every)):
        steps = np.arange(every, 1001, every)
        for seed in range(seeds):
            loss = 3.0 + np.exp(-steps / 300) + seed_effect[seed]
            loss = loss + rng.normal(0.0, 0.05, steps.size)
            frames.append(pl.DataFrame({"variant": variant, "seed": seed, "step": steps,
                                        "loss": loss}))  # fmt: skip
    return pl.concat(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--base-every", type=int, default=10)
    parser.add_argument("--variant-every", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aggs", default="min,last:3,mean,final")
    parser.add_argument(
        "--smoothing", default="0,0.6,0.9", help="--over-steps smoothings ('' for none)"
    )
    args = parser.parse_args()
    aggs = [a for a in args.aggs.split(",") if a]
    smoothings = [float(s) for s in args.smoothing.split(",") if s]
    claims = dict.fromkeys(aggs, 0)
    separations = dict.fromkeys(smoothings, 0)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.replicates):
        curves = study(rng, args.seeds, args.base_every, args.variant_every)
        for agg in aggs:
            table = aggregate_curves(curves, "loss", agg)
            result = compare(table, metric="loss", baseline="base", alpha=args.alpha)
            claims[agg] += result.comparisons[0].verdict in ("better", "worse")
        for smoothing in smoothings:
            over = compare_over_steps(
                curves, metric="loss", baseline="base", alpha=args.alpha,
                smoothing=smoothing, rng=np.random.default_rng(0),
            )  # fmt: skip
            separations[smoothing] += over.variants[0].separated_from is not None
    n = args.replicates
    print(f"{n} null studies, {args.seeds} seeds, baseline every {args.base_every} steps, "
          f"variant every {args.variant_every}; alpha {args.alpha}\n")  # fmt: skip
    print("| comparison | false claims ± MC se |")
    print("|---|---|")
    for agg, hits in claims.items():
        print(f"| --agg {agg} | {_rate(hits, n)} |")
    for smoothing, hits in separations.items():
        print(f"| --over-steps --smoothing {smoothing:g} (any separated_from) | {_rate(hits, n)} |")


def _rate(hits: int, n: int) -> str:
    p = hits / n
    return f"{p:.3f} ± {math.sqrt(p * (1 - p) / n):.3f}"


if __name__ == "__main__":
    main()
