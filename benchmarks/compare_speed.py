"""Wall time of ``harness compare`` on a 100,000-row results table (issue 4: under 2 s).

Writes synthetic tables to a temporary directory and times the command end to end in a fresh
process (interpreter start, imports, reading the file, the statistics, printing), as a user
would run it:

* ``runs``: 100,000 runs, one row each: 20 variants x 5,000 shared seeds, so the paired tests,
  all 190 pairwise comparisons, Holm, tiers and seed advice run on 5,000 pairs each;
* ``curves``: a 100,000-row long curves file (10 variants x 100 seeds x 100 steps) compared
  with ``--agg last:10``.

It prints the median of ``--repeats`` runs per case and, with ``--json``, writes the figures.

Usage::

    python benchmarks/compare_speed.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 2.0


def runs_table(rng: np.random.Generator, variants: int = 20, seeds: int = 5000) -> pl.DataFrame:
    seed_effect = rng.normal(0, 0.05, seeds)
    effects = np.linspace(-0.01, 0.01, variants)
    values = 3.3 + seed_effect[None, :] + effects[:, None] + rng.normal(0, 0.01, (variants, seeds))
    return pl.DataFrame(
        {
            "variant": np.repeat([f"v{i:02d}" for i in range(variants)], seeds),
            "seed": np.tile(np.arange(seeds), variants),
            "val_loss": values.ravel(),
            "tokens_per_s": rng.normal(50_000, 500, variants * seeds),
        }
    )


def curves_table(
    rng: np.random.Generator, variants: int = 10, seeds: int = 100, steps: int = 100
) -> pl.DataFrame:
    step = np.arange(steps) * 10
    shape = 3.3 + 5.0 / (1 + step / 50)
    values = (
        shape[None, None, :]
        + rng.normal(0, 0.05, (1, seeds, 1))
        + np.linspace(-0.02, 0.02, variants)[:, None, None]
        + rng.normal(0, 0.01, (variants, seeds, steps))
    )
    return pl.DataFrame(
        {
            "variant": np.repeat([f"v{i:02d}" for i in range(variants)], seeds * steps),
            "seed": np.tile(np.repeat(np.arange(seeds), steps), variants),
            "step": np.tile(step, variants * seeds),
            "train_loss": values.ravel(),
        }
    )


def time_command(args: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system, the child process) of each run. On a
    machine shared with other jobs the wall time includes waiting for a core; the CPU time
    does not, so both are reported."""
    times, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "harness", "compare", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if done.returncode != 0:
            raise SystemExit(f"harness compare failed:\n{done.stderr}")
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    figures = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "cases": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs.parquet"
        runs_table(rng).write_parquet(runs)
        runs_csv = Path(tmp) / "runs.csv"
        runs_table(rng).write_csv(runs_csv)
        curves = Path(tmp) / "curves.parquet"
        curves_table(rng).write_parquet(curves)
        cases = {
            "runs.parquet (100,000 rows, 20 variants x 5,000 seeds)": [
                str(runs), "--metric", "val_loss", "--baseline", "v00", "--format", "json",
            ],
            "runs.csv (same table as CSV), rich table output": [
                str(runs_csv), "--metric", "val_loss", "--baseline", "v00",
            ],
            "curves.parquet (100,000 rows), --agg last:10": [
                str(curves), "--metric", "train_loss", "--agg", "last:10", "--baseline", "v00",
                "--format", "json",
            ],
            "startup only (--help)": ["--help"],
        }  # fmt: skip
        for name, command in cases.items():
            times, cpu = time_command(command, args.repeats)
            median = statistics.median(times)
            cpu_median = statistics.median(cpu)
            figures["cases"][name] = {
                "median_s": median,
                "min_s": min(times),
                "cpu_median_s": cpu_median,
                "runs": times,
            }
            verdict = "" if "help" in name else ("  OK" if median < TARGET_S else "  OVER 2 s")
            print(
                f"{name:56s} wall median {median:5.2f} s (min {min(times):.2f}), "
                f"CPU {cpu_median:.2f} s{verdict}"
            )
    figures["load_average"] = os.getloadavg()
    print(f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
