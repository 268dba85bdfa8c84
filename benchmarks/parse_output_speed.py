"""What parsing a command's output costs (issue 17: under 2 s for a script printing 1,000,000
lines).

A script prints ``--lines`` lines, every one a metric line (the worst case)::

    step 123: train loss 2.3456, val loss 2.4567

and the same one-variant, one-seed study runs through ``harness study`` five ways:

* ``unparsed``: no ``metrics`` table; the output only goes to ``output.log`` (through the
  same pipe) and the script appends its final row to ``metrics.jsonl`` itself;
* ``regex``: ``[base.metrics] stdout = ['step (?P<step>\\d+): train loss ...']``;
* ``auto``: ``stdout = "auto"``;
* ``log``: the script writes the lines to ``train.log`` and prints nothing,
  ``log = "{run_dir}/train.log"`` with the regex;
* ``log_auto``: the same log file, ``log = "{run_dir}/train.log"`` alone ("auto" patterns).

Each parsed case writes every line as a row of ``metrics.jsonl`` (1,000,000 rows). The figure
is the run's ``wall_time_s`` (the worker's: command start to record written) minus that of
``unparsed``, median of ``--repeats``; the script alone (``python script.py > /dev/null``) is
timed too. The worker parses in its own process, beside the script: on a machine with a free
core much of the parsing overlaps the printing.

Usage::

    python benchmarks/parse_output_speed.py [--lines 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 2.0
REGEX = r"step (?P<step>\d+): train loss (?P<train_loss>[0-9.]+), val loss (?P<val_loss>[0-9.]+)"

SCRIPT = """\
import json, os, sys
lines, mode = int(sys.argv[1]), sys.argv[2]
out = open(os.path.join(os.environ["HARNESS_RUN_DIR"], "train.log"), "w") \\
    if mode.startswith("log") \\
    else sys.stdout
write = out.write
for step in range(1, lines + 1):
    write(f"step {step}: train loss {2 + 1 / step:.4f}, val loss {2.1 + 1 / step:.4f}\\n")
out.flush()
if mode == "unparsed":
    with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": lines, "val_loss": 2.1 + 1 / lines}) + "\\n")
"""

METRICS = {
    "unparsed": "",
    "regex": f"[base.metrics]\nstdout = ['{REGEX}']\n",
    "auto": '[base.metrics]\nstdout = "auto"\n',
    "log": f"[base.metrics]\nstdout = ['{REGEX}']\nlog = \"{{run_dir}}/train.log\"\n",
    "log_auto": '[base.metrics]\nlog = "{run_dir}/train.log"\n',
}


def run_case(root: Path, case: str, lines: int, repeat: int) -> float:
    """One ``harness study`` of the case; the run's wall time in seconds."""
    name = f"{case}_{repeat}"
    study = root / f"{name}.toml"
    study.write_text(
        f'[study]\nname = "{name}"\nmetric = "val_loss"\nseeds = 1\n\n[base]\n'
        f'command = "{sys.executable} {root / "print_lines.py"} {lines} {case}"\n'
        f"{METRICS[case]}\n[variants.only]\n"
    )
    argv = [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(root)]
    argv += ["--no-wandb", "--no-progress", "--jobs", "1"]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    record_path = root / name / "runs" / "only" / "s0" / "record.json"
    if result.returncode != 0 or not record_path.exists():
        raise SystemExit(f"{case} failed:\n{result.stdout}\n{result.stderr}")
    record = json.loads(record_path.read_text())
    assert record["status"] == "done", record
    rows = sum(1 for _ in (record_path.parent / "metrics.jsonl").open())
    assert rows == (1 if case == "unparsed" else lines), (case, rows)
    return float(record["wall_time_s"])


def script_alone(root: Path, lines: int) -> float:
    env = {**os.environ, "HARNESS_RUN_DIR": str(root)}
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        subprocess.run(
            [sys.executable, str(root / "print_lines.py"), str(lines), "alone"],
            stdout=devnull,
            env=env,
            check=True,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "print_lines.py").write_text(SCRIPT)
        alone = statistics.median(script_alone(root, args.lines) for _ in range(args.repeats))
        times: dict[str, list[float]] = {case: [] for case in METRICS}
        for repeat in range(args.repeats):  # interleaved, so that load drifts hit every case
            for case in METRICS:
                times[case].append(run_case(root, case, args.lines, repeat))
    medians = {case: statistics.median(values) for case, values in times.items()}
    print(
        f"date: {datetime.date.today()}  machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"lines: {args.lines:,}  repeats: {args.repeats}  (medians)")
    print(f"script alone, > /dev/null: {alone:.2f} s")
    for case, median in medians.items():
        extra = median - medians["unparsed"]
        verdict = (
            ""
            if case == "unparsed"
            else (
                f"  parsing adds {extra:+.2f} s  ({'under' if extra < TARGET_S else 'OVER'} "
                f"{TARGET_S:.0f} s)"
            )
        )
        runs = ", ".join(f"{v:.2f}" for v in times[case])
        print(f"{case:>9}: run {median:.2f} s  [{runs}]{verdict}")


if __name__ == "__main__":
    main()
