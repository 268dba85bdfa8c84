"""Hostile and unusual input: every case ends in one clear line (exit 2) or works, never a
traceback, never a file of harness's own lost. Each case runs the real CLI on a real study."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_studies import write_study
from finished_study import cli

# A command that reports one metric row; what it computes does not matter here.
REPORTS_ONE_ROW = """
import json, os
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 1, "val_loss": 1.0}) + "\\n")
"""


def assert_one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    error_lines = [line for line in result.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, result.err
    for needle in needles:
        assert needle in error_lines[0], result.err


# -- seeds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "seeds"),
    [
        ("file", "[0, 100000000000000000000]"),  # 1e20: Int64 overflows in the analysis
        ("file", "[0, 4294967296]"),  # 2**32: numpy's np.random.seed refuses it
        ("flag", "0,100000000000000000000"),
    ],
)
def test_a_seed_no_backend_accepts_is_refused_at_the_door(
    tmp_path: Path, where: str, seeds: str
) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW)
    args = ["validate", str(study)]
    if where == "file":
        study.write_text(study.read_text().replace("seeds = 1", f"seeds = {seeds}"))
    else:
        args += ["--seeds", seeds]
    assert_one_line_error(cli(*args), "study.seeds", "4294967295")


def test_the_largest_seed_every_backend_accepts_runs_and_compares(tmp_path: Path) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, variants=("a", "b"))
    study.write_text(study.read_text().replace("seeds = 1", "seeds = [0, 4294967295]"))
    runs = tmp_path / "runs"
    ran = cli("study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb")
    assert ran.code == 0, ran.err
    compared = cli("compare", str(runs / "faults"))
    assert compared.code == 0, compared.err
    assert "Traceback" not in compared.err


def test_until_decided_never_adds_a_seed_beyond_the_range(tmp_path: Path) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, variants=("a", "b"))
    study.write_text(study.read_text().replace("seeds = 1", "seeds = [0, 4294967294]"))
    result = cli("validate", str(study), "--max-seeds", "4")
    assert_one_line_error(result, "--max-seeds 4", "4294967295")
