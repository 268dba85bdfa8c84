"""A damaged Optuna journal (``tune/journal.log``): a torn last record, what a crash or a power
loss leaves, is cut off with a warning and the search goes on, as Optuna's own reader skips
it; damage before the last record is named by file and line, with no traceback.

Each journal is written by a real ``harness tune`` and damaged the way a crash damages it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tune import LR_SEARCH, TIMEOUT_S, assert_trials_match_runs, finish, load, tune_cli
from test_tune import write_study as write_search_study


def searched(tmp_path: Path, trials: int) -> tuple[Path, Path, Path]:
    """A study file, its runs root and its journal after ``trials`` trials."""
    study_file = write_search_study(tmp_path, LR_SEARCH)
    runs = tmp_path / "runs"
    finish(tune_cli(study_file, runs, "--trials", str(trials)))
    return study_file, runs, runs / "toy" / "tune" / "journal.log"


@pytest.mark.parametrize(
    "damage",
    [
        "cut_mid_record",  # a crash during the last append
        "zero_filled_tail",  # a power loss: the file grew, its last block never reached disk
        "half_a_record_appended",
    ],
)
def test_a_torn_last_journal_record_is_cut_off_with_a_warning(tmp_path: Path, damage: str) -> None:
    study_file, runs, journal = searched(tmp_path, trials=2)
    intact = journal.read_bytes()
    torn = {
        "cut_mid_record": intact[:-7],
        "zero_filled_tail": intact + b"\x00" * 100,
        "half_a_record_appended": intact + b'{"op_code":4,"worker_id":"w","trial',
    }[damage]
    journal.write_bytes(torn)
    process = tune_cli(study_file, runs, "--trials", "4")
    _, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    warning = [line for line in err.splitlines() if "warning:" in line]
    assert len(warning) == 1 and str(journal) in warning[0] and "torn" in warning[0], err
    end_of_last_record = torn.rfind(b"\n") + 1
    assert journal.read_bytes().startswith(torn[:end_of_last_record])  # every whole record kept
    assert journal.with_name("journal.log.torn").read_bytes() == torn[end_of_last_record:]
    assert_trials_match_runs(load(runs), runs, 4)  # a torn trial is retried, none is lost


def test_a_journal_damaged_before_its_last_record_is_named(tmp_path: Path) -> None:
    study_file, runs, journal = searched(tmp_path, trials=1)
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2][:10] + b"\n"  # a record cut short in the middle of the file
    journal.write_bytes(b"".join(lines))
    process = tune_cli(study_file, runs, "--trials", "2")
    _, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 2, err
    assert "Traceback" not in err
    assert f"{journal}:3" in err
