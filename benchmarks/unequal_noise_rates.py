"""Issue 32, item 2: false claims, coverage and power of ``analysis.compare_values`` when one
variant is noisier than the others and runs are lost.

Studies of ``--variants`` variants (base, a, b, c, ...; 3 by default) on ``--seeds`` seeds:
``3 + seed effect (sd 1) + noise``, noise sd 0.05 for every variant but a, whose noise is
``ratio`` x 0.05 (an unstable variant). ``lost`` runs are dropped at random cells (each
variant keeps at least 2 runs), which sends the pairs that no longer ran the same seeds away
from the plain paired t-test.

- false claims (null, every variant equal): any verdict other than indistinguishable, or more
  than one tier; Holm over every pair at alpha = 0.05;
- coverage: the share of 95 % CIs of each pairwise difference (a - base, b - base, ..., then
  the pairs without the baseline) that contain the truth (0); the smallest is printed with
  the list;
- power (equal noise, ratio 1): b shifted by ``--effect`` noise sds, the share of studies in
  which b vs base is called at the right side.

Every cell prints the rate with its Monte-Carlo standard error. Run it on two checkouts to
compare methods (docs/statistics.md has both).

Usage::

    python benchmarks/unequal_noise_rates.py [--studies 2000] [--seeds 6] [--variants 3]
        [--effect 2.5] [--seed 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis import compare_values

ALPHA = 0.05
NAMES = ["base", "a", "b", "c", "d", "e", "f", "g"]
SEED_SD = 1.0
NOISE_SD = 0.05


def study(
    rng: np.random.Generator,
    n_seeds: int,
    ratio: float,
    lost: int,
    shift: float = 0.0,
    variants: int = 3,
) -> np.ndarray:
    noise = np.full((variants, 1), NOISE_SD)
    noise[1] *= ratio
    values = (
        3.0 + rng.normal(0.0, SEED_SD, (1, n_seeds)) + noise * rng.normal(size=(variants, n_seeds))
    )
    values[2] += shift
    while lost:
        v, s = int(rng.integers(variants)), int(rng.integers(n_seeds))
        if np.isfinite(values[v, s]) and np.isfinite(values[v]).sum() > 2:
            values[v, s] = np.nan
            lost -= 1
    return values


def se(rate: float, n: int) -> float:
    return float(np.sqrt(max(rate * (1 - rate), 1e-12) / n))


def null_cell(
    rng: np.random.Generator, studies: int, n_seeds: int, ratio: float, lost: int, variants: int
) -> str:
    names = NAMES[:variants]
    claims, covered, designs = 0, np.zeros(variants * (variants - 1) // 2), set()
    for _ in range(studies):
        result = compare_values(
            study(rng, n_seeds, ratio, lost, variants=variants), names, alpha=ALPHA
        )
        claims += len(result.tiers) > 1 or any(
            c.verdict != "indistinguishable" for c in result.comparisons
        )
        covered += [c.ci_low <= 0.0 <= c.ci_high for c in result.pairwise]
        designs |= {c.design for c in result.pairwise}
    rate, coverage = claims / studies, covered / studies
    pairs = ", ".join(f"{c:.4f}" for c in coverage)
    return (
        f"ratio {ratio:g}, lost {lost}:  false claims {rate:.4f} (MC se {se(rate, studies):.4f})"
        f"   coverage min {coverage.min():.4f} of {pairs} (MC se {se(0.95, studies):.4f})"
        f"   designs {'/'.join(sorted(designs))}"
    )


def power_cell(
    rng: np.random.Generator, studies: int, n_seeds: int, lost: int, effect: float, variants: int
) -> str:
    hits = 0
    for _ in range(studies):
        values = study(rng, n_seeds, 1.0, lost, shift=effect * NOISE_SD, variants=variants)
        result = compare_values(values, NAMES[:variants], alpha=ALPHA)
        verdict = result.comparisons[1].verdict
        hits += verdict == "worse"  # lower is better; b is higher
    rate = hits / studies
    return (
        f"equal noise, lost {lost}, effect {effect:g} sd:  power {rate:.4f} "
        f"(MC se {se(rate, studies):.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--effect", type=float, default=2.5)
    parser.add_argument("--variants", type=int, default=3, choices=range(3, len(NAMES) + 1))
    parser.add_argument("--seed", type=int, default=32)
    args = parser.parse_args()
    k = args.variants
    started = time.perf_counter()
    print(
        f"# {args.studies} studies per cell, {k} variants, {args.seeds} seeds, alpha {ALPHA}, "
        f"seed {args.seed}"
    )
    # The 3-variant streams are those of the first version of this script (same studies).
    tail = [] if k == 3 else [k]
    for ratio in (1.0, 2.0, 3.0, 5.0):
        for lost in (0, 1, 2):
            rng = np.random.default_rng([args.seed, args.seeds, int(ratio), lost, *tail])
            print(null_cell(rng, args.studies, args.seeds, ratio, lost, k), flush=True)
    for lost in (0, 1, 2):
        rng = np.random.default_rng([args.seed, args.seeds, lost, 99, *tail])
        print(power_cell(rng, args.studies, args.seeds, lost, args.effect, k), flush=True)
    print(f"# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
