"""Verdicts and timings of the default ``harness coordcheck`` on muP, SP and broken muP.

Each repetition runs the whole default check (widths 64..512, 6 steps, seeds added from 2 to
6 while undecided: ``harness.coordcheck.sequential.check_until_decided``) on one case, with
its own seeds (repetition r uses seeds 100·r, 100·r + 1, ...), so repetitions are independent.
The cases: the built-in GPT under muP (should PASS) and SP (should FAIL), and muP with each
planted bug of ``harness.coordcheck.planted`` (should FAIL; must never PASS). Timings are the
check itself (training and judging, in this process, one torch thread): the CLI adds its
start-up (imports) and the CSV and plot, a few seconds.

Usage:
    nice -n 10 .venv/bin/python -m benchmarks.coordcheck_verdicts [--reps 20]
        [--cases mup,sp,one_lr,sqrt_attention_scale,no_output_multiplier] [--tolerance 0.3]
        [--out FILE.jsonl]

Run it as a module from the repository root (``-m``): run as a file, benchmarks/kernels.py would
shadow the ``kernels`` package the model uses. Prints one line per check as it finishes (so a
partial run still counts) and a summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import torch

from analysis.coordcheck import DEFAULT_TOLERANCE
from harness.coordcheck.measure import measure_seed
from harness.coordcheck.planted import PLANTED_BUGS, planted
from harness.coordcheck.sequential import check_until_decided
from harness.coordcheck.settings import ACTIVATIONS, CoordCheckSettings

CASES = ("mup", "sp", *PLANTED_BUGS)
EXPECTED = {"mup": "PASS"} | {case: "FAIL" for case in CASES if case != "mup"}


def one_check(case: str, repetition: int, tolerance: float) -> dict[str, object]:
    """The default check on ``case`` with repetition ``repetition``'s seeds."""
    settings = CoordCheckSettings(parametrization="sp" if case == "sp" else "mup")
    offset = 100 * repetition
    bug = planted(case) if case in PLANTED_BUGS else contextlib.nullcontext()
    started = time.perf_counter()
    with bug:
        _, result = check_until_decided(
            lambda seed: measure_seed(settings, offset + seed),
            first_seeds=settings.first_seeds,
            max_seeds=settings.seeds,
            tolerance=tolerance,
            first_step=settings.first_step,
            order=ACTIVATIONS,
        )
    return {
        "case": case,
        "repetition": repetition,
        "verdict": result.verdict,
        "seeds": result.seeds,
        "seconds": round(time.perf_counter() - started, 2),
        "lines": list(result.failures or result.uncertain)[:3],
    }


def summary(rows: list[dict[str, object]]) -> str:
    """A markdown table: per case, the verdict counts, seeds used and time."""
    lines = [
        "| case | expected | checks | PASS | FAIL | INCONCLUSIVE | mean seeds | median s | max s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        of = [row for row in rows if row["case"] == case]
        if not of:
            continue
        counts = Counter(str(row["verdict"]) for row in of)
        seconds = [float(str(row["seconds"])) for row in of]
        seeds = statistics.mean(int(str(row["seeds"])) for row in of)
        lines.append(
            f"| {case} | {EXPECTED[case]} | {len(of)} | {counts['PASS']} | {counts['FAIL']} | "
            f"{counts['INCONCLUSIVE']} | {seeds:.1f} | {statistics.median(seconds):.0f} | "
            f"{max(seconds):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="repetitions per case (default 20)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"the check's tolerance (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument("--out", type=Path, default=None, help="append each check as JSON")
    args = parser.parse_args()
    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    torch.set_num_threads(1)
    rows = []
    for repetition in range(args.reps):  # cases interleaved: a load spike hits them alike
        for case in cases:
            row = one_check(case, repetition, args.tolerance)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out is not None:
                with args.out.open("a") as sink:
                    sink.write(json.dumps(row) + "\n")
    print(summary(rows))


if __name__ == "__main__":
    main()
