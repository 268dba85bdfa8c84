"""How ``harness coordcheck``'s window and seed schedule were calibrated (docs/coordcheck.md).

On the calibration seeds (1000..1015: disjoint from the benchmark's evaluation seeds and from
the CLI's 0..23) it trains a correct muP and the 1/√d_head attention bug
(``harness.coordcheck.planted``) for ``--steps`` steps at the default widths, then, for each
window of judged steps, prints the largest |width exponent| of the correct muP and the bug's
``attn_logits`` exponents with their per-seed sd (``se · √S``), and a bootstrap of the
sequential rule: each simulated check draws its seeds with replacement from the calibration
seeds and adds them on the default schedule (4, 8, ..., 24) at the tolerance. The bootstrap
reuses 16 seeds for up to 24, so it shows which settings can work, not error rates (those are
``benchmarks/coordcheck_verdicts.py``'s, on fresh seeds). With a constant LR, the first k steps
of a longer run are the k-step run, so one run serves every window.

Usage:
    PYTHONPATH=$PWD nice -n 10 .venv/bin/python -m benchmarks.coordcheck_calibration
        [--steps 10] [--seeds 16] [--sims 200] [--tolerance 0.25] [--cases mup,sqrt_attention_scale]
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np
import polars as pl
import torch

from analysis.coordcheck import DEFAULT_TOLERANCE, coord_check, width_exponents
from harness.coordcheck.measure import measure_seed
from harness.coordcheck.planted import PLANTED_BUGS, planted
from harness.coordcheck.sequential import records_frame
from harness.coordcheck.settings import CoordCheckSettings, look_schedule

CALIBRATION_SEED = 1000
WINDOWS = ((3, 6), (3, 7), (3, 8), (4, 8), (2, 8), (3, 10))  # [first step, end) of judged steps


def measure(case: str, settings: CoordCheckSettings, seeds: int) -> pl.DataFrame:
    """The records of ``seeds`` calibration seeds of ``case`` ("mup" or a planted bug)."""
    bug = planted(case) if case in PLANTED_BUGS else contextlib.nullcontext()
    rows = []
    with bug:
        for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + seeds):
            rows += measure_seed(settings, seed)
    return records_frame(rows).filter(pl.col("activation") != "loss")


def bootstrap(
    records: pl.DataFrame, *, first: int, tolerance: float, sims: int, rng: np.random.Generator
) -> dict[str, int]:
    """Verdicts of ``sims`` sequential checks on seeds drawn with replacement (relabelled so
    that a seed drawn twice counts as two)."""
    defaults = CoordCheckSettings()
    schedule = look_schedule(defaults.first_seeds, defaults.seeds, defaults.seeds_per_look)
    seeds = records["seed"].unique().sort().to_list()
    counts = {"PASS": 0, "FAIL": 0, "INCONCLUSIVE": 0}
    for _ in range(sims):
        drawn = rng.choice(seeds, size=schedule[-1], replace=True)
        parts = [
            records.filter(pl.col("seed") == int(seed)).with_columns(pl.lit(label).alias("seed"))
            for label, seed in enumerate(drawn)
        ]
        sample = pl.concat(parts)
        for n in schedule:
            result = coord_check(
                sample.filter(pl.col("seed") < n),
                tolerance=tolerance,
                first_step=first,
                looks=len(schedule),
            )
            if result.verdict != "INCONCLUSIVE":
                break
        counts[result.verdict] += 1
    return counts


def describe(exponents: pl.DataFrame, count: int) -> str:
    """The ``count`` largest |exponents| with their per-seed sd."""
    top = exponents.with_columns(
        (pl.col("se") * pl.col("n_seeds").cast(pl.Float64).sqrt()).alias("sd")
    ).sort(pl.col("slope").abs(), descending=True)
    return "; ".join(
        f"{row['activation']}{'' if row['layer'] is None else ' L' + str(row['layer'])} "
        f"{row['slope']:+.2f} (sd {row['sd']:.2f})"
        for row in top.head(count).iter_rows(named=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps trained (default 10)")
    parser.add_argument("--seeds", type=int, default=16, help="calibration seeds (default 16)")
    parser.add_argument("--sims", type=int, default=200, help="bootstrap checks (default 200)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    parser.add_argument("--cases", default="mup,sqrt_attention_scale", help="comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = CoordCheckSettings(steps=args.steps)
    rng = np.random.default_rng(0)
    for case in (part.strip() for part in args.cases.split(",") if part.strip()):
        records = measure(case, settings, args.seeds)
        for first, end in WINDOWS:
            if end > args.steps:
                continue
            window = records.filter(pl.col("step") < end)
            exponents = width_exponents(window, first_step=first)
            counts = bootstrap(
                window, first=first, tolerance=args.tolerance, sims=args.sims, rng=rng
            )
            print(f"{case}, steps {first}..{end - 1}: {describe(exponents, 3)}", flush=True)
            print(f"    bootstrap at {args.tolerance:g}: {counts}", flush=True)


if __name__ == "__main__":
    main()
