"""The end-of-study summary says why runs failed, and suggests no comparison of nothing.

Real small scripts run as commands through the CLI (``--no-wandb``, ``--no-progress``: the
progress display, which prints each failure as it happens, is off).
"""

from __future__ import annotations

from pathlib import Path

from test_own_scripts import PYTHON, check, study, write_study

FAILS = """\
import sys
print("loading data.bin", flush=True)
sys.exit("FileNotFoundError: data.bin is missing")
"""

WORKS = """\
import json, os, sys
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as out:
    out.write(json.dumps({"step": 1, "loss": 1.0 + int(sys.argv[1]) / 10}) + "\\n")
"""


def test_without_progress_the_reason_a_run_failed_is_printed(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(FAILS)
    base = f'command = "{PYTHON} fails.py {{seed}}"'
    path = write_study(tmp_path, "broken", {"a": "", "b": "env = { B = '1' }"}, base, "loss")
    result = study(path, tmp_path / "runs", cwd=tmp_path)
    check(result, 1)
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "a-s0 failed: " in out
    assert "data.bin is missing" in out
    assert "Next: harness compare" not in out  # nothing finished: nothing to compare


def test_a_study_with_finished_runs_still_suggests_compare(tmp_path: Path) -> None:
    (tmp_path / "works.py").write_text(WORKS)
    base = f'command = "{PYTHON} works.py {{seed}}"'
    path = write_study(tmp_path, "fine", {"a": "", "b": "env = { B = '1' }"}, base, "loss")
    result = study(path, tmp_path / "runs", cwd=tmp_path)
    check(result)
    assert "Next: harness compare" in " ".join(result.stdout.split())
