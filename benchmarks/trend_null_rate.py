"""The sweep trend test's false-claim rate when the slope varies from seed to seed.

Simulated sweeps: 5 points 0.0 … 0.8, ``y = 3 + seed effect (sd 1) + b[seed] · x + noise
(sd 0.05)`` with ``b[seed] ~ N(slope, slope_sd²)``. Under a null average slope (slope 0) a
trend claim is false; the per-seed slopes test (analysis.trend.per_seed_slopes, the verdict's
basis) is printed beside the common-slope test with seed intercepts (fixed_effects_slope, the
former verdict), and the power of both at an average slope of 0.2.

Usage:
    .venv/bin/python benchmarks/trend_null_rate.py [--sims 20000]
"""

from __future__ import annotations

import argparse

import numpy as np

from analysis.trend import fixed_effects_slope, per_seed_slopes

XS = np.array([0.0, 0.2, 0.4, 0.6, 0.8])


def simulate(
    rng: np.random.Generator, sims: int, seeds: int, slope: float, slope_sd: float
) -> np.ndarray:
    seed_slope = slope + rng.normal(0.0, slope_sd, (sims, seeds, 1))
    seed_effect = rng.normal(0.0, 1.0, (sims, seeds, 1))
    return 3.0 + seed_effect + seed_slope * XS + rng.normal(0.0, 0.05, (sims, seeds, len(XS)))


def rates(y: np.ndarray, alpha: float) -> tuple[float, float]:
    per_seed = float(np.mean(per_seed_slopes(XS, y)["p_value"] <= alpha))
    common = float(np.mean(fixed_effects_slope(XS, y)["p_value"] <= alpha))
    return per_seed, common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=20000)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mc = 3 * np.sqrt(args.alpha * (1 - args.alpha) / args.sims)
    print(f"{args.sims} studies per row; alpha {args.alpha}; 3 MC sd at alpha: ±{mc:.3f}\n")
    print("| seeds | seed-slope sd | null: per-seed slopes | null: common slope | "
          "power at slope 0.2: per-seed | common |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for seeds in (2, 3, 5, 8):
        for slope_sd in (0.0, 0.05, 0.1, 0.2, 0.4):
            null = rates(simulate(rng, args.sims, seeds, 0.0, slope_sd), args.alpha)
            power = rates(simulate(rng, args.sims, seeds, 0.2, slope_sd), args.alpha)
            print(f"| {seeds} | {slope_sd:g} | {null[0]:.3f} | {null[1]:.3f} | "
                  f"{power[0]:.3f} | {power[1]:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
