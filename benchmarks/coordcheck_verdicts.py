"""Verdicts and timings of the default ``harness coordcheck`` on muP, SP and broken muP.

Each repetition runs the whole default check (``CoordCheckSettings()``: widths 64..512, 7
steps, seeds added 4 at a time from 4 to 24 while undecided:
``harness.coordcheck.sequential.check_until_decided``) on one case, with its own seeds
(repetition r uses seeds 10000 + 100·r, 10000 + 100·r + 1, ...), so repetitions are
independent, and disjoint from the seeds the defaults were calibrated on (1000..1015,
docs/coordcheck.md) and from the CLI's own seeds (0..23).
The cases: the built-in GPT under muP (should PASS) and SP (should FAIL), and muP with each
planted bug of ``harness.coordcheck.planted`` (should FAIL; must never PASS). Timings are the
check itself (training and judging, in this process, one torch thread): the CLI adds its
start-up (imports) and the CSV and plot, a few seconds. Each check records its wall seconds
and its CPU seconds (``time.process_time``): on a shared machine the wall time measures the
load, the CPU time what the check costs (with one thread, its wall time on an idle core).

Usage:
    nice -n 10 .venv/bin/python -m benchmarks.coordcheck_verdicts [--reps 20]
        [--cases mup,sp,one_lr,sqrt_attention_scale,no_output_multiplier] [--tolerance 0.25]
        [--attention selective|mha] [--out FILE.jsonl]
    .venv/bin/python -m benchmarks.coordcheck_verdicts --summarize A.jsonl B.jsonl ...

``--attention mha`` checks plain attention at its own defaults (``default_settings("mha")``:
2 x 8 tokens, 5 steps). (Shards of the cases can run in parallel, each with its own
``--out``; ``--summarize`` prints the table of their rows.)

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
from harness.coordcheck.settings import ACTIVATIONS, default_settings

CASES = ("mup", "sp", *PLANTED_BUGS)
SEED_BASE = 10_000  # evaluation seeds: disjoint from the calibration seeds 1000..1015
EXPECTED = {"mup": "PASS"} | {case: "FAIL" for case in CASES if case != "mup"}


def one_check(
    case: str, repetition: int, tolerance: float, attention: str = "selective"
) -> dict[str, object]:
    """The default check on ``case`` with repetition ``repetition``'s seeds."""
    settings = default_settings(attention, parametrization="sp" if case == "sp" else "mup")
    offset = SEED_BASE + 100 * repetition
    bug = planted(case) if case in PLANTED_BUGS else contextlib.nullcontext()
    started, cpu_started = time.perf_counter(), time.process_time()
    with bug:
        _, result = check_until_decided(
            lambda seed: measure_seed(settings, offset + seed),
            first_seeds=settings.first_seeds,
            seeds_per_look=settings.seeds_per_look,
            max_seeds=settings.seeds,
            tolerance=tolerance,
            first_step=settings.first_step,
            order=ACTIVATIONS,
        )
    return {
        "case": case,
        "attention": attention,
        "repetition": repetition,
        "verdict": result.verdict,
        "seeds": result.seeds,
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
        "lines": list(result.failures or result.uncertain)[:3],
    }


def summary(rows: list[dict[str, object]]) -> str:
    """A markdown table: per case, the verdict counts, seeds used and time."""
    lines = [
        "| case | expected | checks | PASS | FAIL | INCONCLUSIVE | mean seeds | median s | max s "
        "| median CPU s | max CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        of = [row for row in rows if row["case"] == case]
        if not of:
            continue
        counts = Counter(str(row["verdict"]) for row in of)
        seconds = [float(str(row["seconds"])) for row in of]
        seeds = statistics.mean(int(str(row["seeds"])) for row in of)
        cpu = [float(str(row.get("cpu_seconds", "nan"))) for row in of]
        lines.append(
            f"| {case} | {EXPECTED[case]} | {len(of)} | {counts['PASS']} | {counts['FAIL']} | "
            f"{counts['INCONCLUSIVE']} | {seeds:.1f} | {statistics.median(seconds):.0f} | "
            f"{max(seconds):.0f} | {statistics.median(cpu):.0f} | {max(cpu):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="repetitions per case (default 20)")
    parser.add_argument(
        "--first-rep",
        type=int,
        default=0,
        help="the first repetition (default 0): shards of repetitions can run in parallel",
    )
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"the check's tolerance (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument(
        "--attention",
        choices=("selective", "mha"),
        default="selective",
        help="the built-in GPT's attention, at its defaults (default selective)",
    )
    parser.add_argument("--out", type=Path, default=None, help="append each check as JSON")
    parser.add_argument(
        "--summarize",
        type=Path,
        nargs="+",
        default=None,
        help="print the table of these --out files instead of running",
    )
    args = parser.parse_args()
    if args.summarize:
        lines = [line for path in args.summarize for line in path.read_text().splitlines()]
        print(summary([json.loads(line) for line in lines if line.strip()]))
        return
    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    torch.set_num_threads(1)
    rows = []
    for repetition in range(
        args.first_rep, args.first_rep + args.reps
    ):  # cases interleaved: a load spike hits them alike
        for case in cases:
            row = one_check(case, repetition, args.tolerance, args.attention)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out is not None:
                with args.out.open("a") as sink:
                    sink.write(json.dumps(row) + "\n")
    print(summary(rows))


if __name__ == "__main__":
    main()
