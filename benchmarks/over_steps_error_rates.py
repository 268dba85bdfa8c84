"""Error rates of ``harness compare --over-steps`` (analysis.compare_over_steps), by simulation.

Simulated studies: per seed, the difference curve variant − baseline over ``--steps`` logged
steps is AR(1) noise (sd 1, lag-1 correlation rho; Gaussian or Student t with 3 df rescaled to
sd 1) plus ``effect`` from step ``onset`` on. Printed per setting:

- band: share of studies with no difference at any step in which the simultaneous band excludes
  zero at some step (the family-wise error; at most alpha by construction);
- pointwise: the same for the pointwise t intervals (what reading a curve step by step gives);
- with an effect: share of studies whose ``separated_from`` lies in [onset, onset + 50], before
  the onset, later, or never.

Usage:
    .venv/bin/python benchmarks/over_steps_error_rates.py [--studies 400]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import polars as pl

from analysis import compare_over_steps


def study(
    rng: np.random.Generator,
    *,
    seeds: int,
    steps: int,
    rho: float,
    effect: float = 0.0,
    onset: int = 50,
    tails: str = "normal",
) -> pl.DataFrame:
    def draw(size: int) -> np.ndarray:
        if tails == "t3":
            return rng.standard_t(3, size) / math.sqrt(3.0)  # sd 1
        return rng.standard_normal(size)

    noise = np.empty((seeds, steps))
    noise[:, 0] = draw(seeds)
    for step in range(1, steps):
        noise[:, step] = rho * noise[:, step - 1] + math.sqrt(1 - rho**2) * draw(seeds)
    noise[:, onset:] += effect
    base = 3 + 0.5 * rng.standard_normal((seeds, 1)) + 2 / (1 + np.arange(steps))
    return pl.concat(
        pl.DataFrame(
            {
                "variant": name,
                "seed": np.repeat(np.arange(seeds), steps),
                "step": np.tile(np.arange(steps), seeds),
                "loss": values.ravel(),
            }
        )
        for name, values in (("base", base), ("v", base + noise))
    )


def null_rates(
    rng: np.random.Generator, studies: int, smoothing: float = 0.0, **setting: object
) -> tuple[float, float]:
    band = pointwise = 0
    for _ in range(studies):
        frame = compare_over_steps(
            study(rng, **setting),  # type: ignore[arg-type]
            metric="loss",
            baseline="base",
            smoothing=smoothing,
            rng=rng,
        ).to_frame()
        band += bool(((frame["band_low"] > 0) | (frame["band_high"] < 0)).any())
        pointwise += bool(((frame["ci_low"] > 0) | (frame["ci_high"] < 0)).any())
    return band / studies, pointwise / studies


def separation(rng: np.random.Generator, studies: int, **setting: object) -> dict[str, float]:
    counts = {"in [50, 100]": 0, "before 50": 0, "after 100": 0, "never": 0}
    for _ in range(studies):
        result = compare_over_steps(
            study(rng, **setting),  # type: ignore[arg-type]
            metric="loss",
            baseline="base",
            rng=rng,
        )
        found = result.variants[0].separated_from
        if found is None:
            counts["never"] += 1
        elif found < 50:
            counts["before 50"] += 1
        elif found <= 100:
            counts["in [50, 100]"] += 1
        else:
            counts["after 100"] += 1
    return {key: value / studies for key, value in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(23)
    started = time.time()
    mc = 2 * math.sqrt(0.05 * 0.95 / args.studies)
    print(f"no difference, alpha 0.05, {args.steps} steps, {args.studies} studies each (±{mc:.3f})")
    print("| seeds | rho | noise | smoothing | band excludes 0 somewhere | pointwise CIs do |")
    print("|---|---|---|---|---|---|")
    settings = [
        (seeds, rho, "normal", 0.0) for seeds in (6, 8, 12, 16) for rho in (0.0, 0.9, 0.99)
    ] + [(8, 0.9, "t3", 0.0), (8, 0.0, "normal", 0.9)]
    for seeds, rho, tails, smoothing in settings:
        band, pointwise = null_rates(
            rng,
            args.studies,
            smoothing=smoothing,
            seeds=seeds,
            steps=args.steps,
            rho=rho,
            tails=tails,
        )
        print(f"| {seeds} | {rho} | {tails} | {smoothing} | {band:.3f} | {pointwise:.3f} |")
    print()
    print("a difference of 3 noise sd from step 50 on, 200 steps, rho 0.9")
    print("| seeds | separated_from in [50, 100] | before 50 | after 100 | never |")
    print("|---|---|---|---|---|")
    for seeds in (8, 10, 16):
        rates = separation(rng, args.studies // 2, seeds=seeds, steps=200, rho=0.9, effect=3.0)
        print(f"| {seeds} | " + " | ".join(f"{v:.3f}" for v in rates.values()) + " |")
    print(f"\n{time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
