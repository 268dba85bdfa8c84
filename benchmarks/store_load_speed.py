"""How fast a big study's records and curves load (issue 21): ``harness compare --agg last:10``
and ``harness report`` on a synthetic study of ``--runs`` runs × ``--rows`` curve rows.

    python benchmarks/store_load_speed.py [--runs 400] [--rows 500] [--repeat 3]

The study is written as the worker writes one (``study.json``, ``config.json``,
``metrics.jsonl``, ``record.json`` per run: 8 variants × runs/8 seeds, rows of ``step``,
``train_loss``, ``val_loss``, ``lr``), then each command runs in a fresh process, as a user would
run it; the script prints every wall time, the median, and the 1-minute load average before each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.store import FileSystemStore, RunConfigFile, RunKey, RunRecord, StudyMeta

VARIANTS = 8


def write_study(study_dir: Path, *, runs: int, rows: int) -> None:
    """A finished study of ``runs`` command runs, each with ``rows`` metric rows."""
    rng = np.random.default_rng(0)
    seeds = list(range(runs // VARIANTS))
    variants = [f"v{i}" for i in range(VARIANTS)]
    store = FileSystemStore(study_dir)
    store.write_study_meta(
        StudyMeta(
            name="big",
            metric="val_loss",
            direction="minimize",
            baseline="v0",
            variants=variants,
            seeds=seeds,
        )
    )
    steps = np.arange(1, rows + 1)
    for v, variant in enumerate(variants):
        for seed in seeds:
            key = RunKey(variant=variant, seed=seed)
            config = {"command": "true", "params": {"v": v}}
            store.write_config(
                RunConfigFile(
                    study="big", variant=variant, seed=seed, kind="command", config=config,
                    config_hash="h",
                )
            )  # fmt: skip
            noise = rng.normal(0.0, 0.01, size=(rows, 2))
            val = 2.0 + 1.0 / steps + 0.001 * v + noise[:, 0]
            lines = [
                json.dumps(
                    {"step": int(s), "train_loss": float(t), "val_loss": float(x), "lr": 1e-3}
                )
                for s, t, x in zip(steps, val + noise[:, 1], val, strict=True)
            ]
            (store.run_dir(key) / "metrics.jsonl").write_text("\n".join(lines) + "\n")
            store.write_record(
                RunRecord(
                    study="big", variant=variant, seed=seed, kind="command", config_hash="h",
                    status="done", final_metrics={"val_loss": float(val[-1]), "lr": 0.001},
                    started_at="2026-11-26T00:00:00+00:00", ended_at="2026-11-26T00:00:01+00:00",
                    wall_time_s=1.0,
                )
            )  # fmt: skip


def timed(argv: list[str]) -> tuple[float, float]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "harness", *argv], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{argv} failed ({result.returncode}):\n{result.stderr}")
    return elapsed, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        study_dir = Path(scratch) / "big"
        write_study(study_dir, runs=args.runs, rows=args.rows)
        out = Path(scratch) / "report"
        commands = {
            "compare --agg last:10": ["compare", str(study_dir), "--agg", "last:10"],
            "report": ["report", str(study_dir), "--output-dir", str(out)],
        }
        for name, argv in commands.items():
            times = []
            for attempt in range(args.repeat):
                elapsed, load = timed(argv)
                times.append(elapsed)
                print(f"  {name} #{attempt + 1}: {elapsed:.2f} s (load {load:.2f})", flush=True)
            print(f"{name} ({args.runs} runs x {args.rows} rows): median "
                  f"{statistics.median(times):.2f} s over {args.repeat}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
