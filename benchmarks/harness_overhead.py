"""Harness's own cost per run (issue 21): wall time of short studies, each in a fresh runs dir.

    python benchmarks/harness_overhead.py [--repeat 3] [--only builtin|command]

- ``builtin``: 8 one-step built-in runs, ``harness study studies/bos_protection.toml --set
  base.train.steps=1 --set base.data.val_sequences=16 --seeds 2``, with ``--no-wandb`` and
  with wandb offline;
- ``command``: 12 trivial command runs (a script that writes one metric line), with
  ``--no-wandb`` and with wandb offline.

Each configuration runs ``--repeat`` times; the script prints every wall time, the median and
the 1-minute load average before each run (the machine may be shared). ``HARNESS_WORKER_POOL=0``
in the environment measures the fresh-process workers instead of the warm pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL_SCRIPT = """\
import json, os
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 1, "val_loss": 1.0 + int(os.environ["HARNESS_SEED"]) / 10}) + "\\n")
"""
TRIVIAL_STUDY = """\
[study]
name = "trivial"
metric = "val_loss"
seeds = 4
baseline = "a"

[base]
command = "{python} trivial.py --seed {{seed}}"

[variants.a]
[variants.b]
[variants.c]
"""


def wandb_offline_env(home: Path) -> dict[str, str]:
    """wandb offline, its files in ``home``; nothing online can be reached."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_BASE_URL": "http://127.0.0.1:9",
        "WANDB_API_KEY": "",
        "WANDB_CONFIG_DIR": str(home),
        "WANDB_CACHE_DIR": str(home),
        "WANDB_DATA_DIR": str(home),
    }


def timed_study(argv: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``harness study`` with ``argv``; returns (seconds, load average before)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "harness", "study", *argv, "--no-progress"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"harness study failed ({result.returncode}):\n{result.stdout}")
    return elapsed, load


def measure(name: str, argv: list[str], *, cwd: Path, env: dict[str, str], repeat: int) -> None:
    times = []
    for attempt in range(repeat):
        with tempfile.TemporaryDirectory() as runs:
            elapsed, load = timed_study([*argv, "--runs-dir", runs], cwd=cwd, env=env)
        times.append(elapsed)
        print(f"  {name} #{attempt + 1}: {elapsed:.2f} s (load {load:.2f})", flush=True)
    print(f"{name}: median {statistics.median(times):.2f} s over {repeat}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("builtin", "command"))
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("HARNESS_RUNS_DIR", None)
    env.pop("WANDB_MODE", None)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        offline = {**env, **wandb_offline_env(scratch / "wandb_home")}
        if args.only in (None, "builtin"):
            builtin = [
                str(ROOT / "studies" / "bos_protection.toml"),
                *("--set", "base.train.steps=1", "--set", "base.data.val_sequences=16"),
                *("--seeds", "2"),
            ]
            measure("builtin 8 runs, --no-wandb", [*builtin, "--no-wandb"], cwd=ROOT, env=env,
                    repeat=args.repeat)  # fmt: skip
            measure("builtin 8 runs, wandb offline", builtin, cwd=ROOT, env=offline,
                    repeat=args.repeat)  # fmt: skip
        if args.only in (None, "command"):
            (scratch / "trivial.py").write_text(TRIVIAL_SCRIPT)
            study = scratch / "trivial.toml"
            study.write_text(TRIVIAL_STUDY.format(python=sys.executable))
            measure("command 12 runs, --no-wandb", [str(study), "--no-wandb"], cwd=scratch,
                    env=env, repeat=args.repeat)  # fmt: skip
            measure("command 12 runs, wandb offline", [str(study)], cwd=scratch, env=offline,
                    repeat=args.repeat)  # fmt: skip


if __name__ == "__main__":
    main()
