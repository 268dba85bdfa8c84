"""A small finished study to damage, copied per test, and the CLI run on it for real.

The command writes two metric rows per run and appends a line to ``calls`` in its run
directory, so a test can tell which runs a later ``harness study`` ran again.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.cli import main

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]
NAME = "s"
VARIANTS = ("a", "b")
SEEDS = (0, 1, 2)

SCRIPT = """\
import json, os, sys
run_dir, seed, offset = os.environ["HARNESS_RUN_DIR"], int(sys.argv[1]), float(sys.argv[2])
with open(os.path.join(run_dir, "calls"), "a") as calls:
    calls.write("called\\n")
with open(os.path.join(run_dir, "metrics.jsonl"), "a") as metrics:
    for step in (10, 20):
        row = {"step": step, "val_loss": offset + seed / 10 + 10 / step}
        metrics.write(json.dumps(row) + "\\n")
"""


@dataclass(frozen=True)
class Study:
    """A study file and its runs root."""

    study_file: Path
    runs: Path

    @property
    def study_dir(self) -> Path:
        return self.runs / NAME

    def run_dir(self, variant: str, seed: int) -> Path:
        return self.study_dir / "runs" / variant / f"s{seed}"

    def calls(self, variant: str, seed: int) -> int:
        """How many times the command of a run was started."""
        path = self.run_dir(variant, seed) / "calls"
        return len(path.read_text().split()) if path.exists() else 0

    def all_calls(self) -> dict[tuple[str, int], int]:
        return {(v, s): self.calls(v, s) for v in VARIANTS for s in SEEDS}

    def copy(self, dst: Path) -> Study:
        """The same study with its own copy of the runs (the study file is shared)."""
        shutil.copytree(self.runs, dst / "runs", symlinks=True)
        return Study(study_file=self.study_file, runs=dst / "runs")

    def study(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``harness study`` in a subprocess (it starts workers and handles signals)."""
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("HARNESS_RUNS_DIR", None)
        argv = [PYTHON, "-m", "harness", "study", str(self.study_file), "--runs-dir"]
        argv += [str(self.runs), "--no-progress", "--no-wandb", *args]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def make_study(root: Path) -> Study:
    """Write the study file and run it to the end."""
    script = root / "metric_script.py"
    script.write_text(SCRIPT)
    lines = ["[study]", f'name = "{NAME}"', 'metric = "val_loss"', f"seeds = {len(SEEDS)}"]
    lines += ['baseline = "a"', "", "[base]"]
    lines.append(f"command = {json.dumps(f'{PYTHON} {script} {{seed}} 1.0')}")
    lines += ["", "[variants.a]", "[variants.b]"]
    lines.append(f"command = {json.dumps(f'{PYTHON} {script} {{seed}} 0.5')}")
    study_file = root / "study.toml"
    study_file.write_text("\n".join(lines) + "\n")
    study = Study(study_file=study_file, runs=root / "runs")
    result = study.study()
    assert result.returncode == 0, result.stdout + result.stderr
    return study


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def cli(*args: str) -> Outcome:
    """A ``harness`` command in this process, through the real entry point: an exception that
    escapes ``main`` (what a user would see as a traceback) fails the test right here."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Outcome(code=code, out=out.getvalue(), err=err.getvalue())
