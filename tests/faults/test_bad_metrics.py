"""Bad metric lines: every one ends in a record, none makes the run retrain on every rerun.

Each case is a real script writing ``metrics.jsonl`` bytes a real training script could write
(an integer too large for a float, bytes that are not UTF-8, ``null`` or a string as the last
value, 1e308), run through ``harness study`` twice: the first run leaves a record, the second
runs nothing. The metrics reader itself is checked on arbitrary bytes by hypothesis.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fault_studies import record, run_study, write_study
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.store.metrics_file import read_metrics, read_metrics_checked
from harness.store.records import (
    final_metrics,
    first_non_finite,
    non_numeric_last_reports,
)
from harness.worker.metric_sources import (
    LineParser,
    MetricSourceError,
    TextStream,
    read_results_file,
)

# A script writing the given lines (bytes) to metrics.jsonl and counting its executions.
SCRIPT = """
import os, sys
from pathlib import Path
run_dir = Path(os.environ["HARNESS_RUN_DIR"])
with open({calls!r}, "a") as calls:
    calls.write("run\\n")
(run_dir / "metrics.jsonl").write_bytes({payload!r})
"""


def study_writing(tmp_path: Path, payload: bytes) -> tuple[Path, Path]:
    calls = tmp_path / "calls.txt"
    study = write_study(tmp_path, SCRIPT.format(calls=str(calls), payload=payload))
    return study, calls


def run_twice(tmp_path: Path, payload: bytes):
    """Run the study, then again: the record of the first, and how often the command ran."""
    study, calls = study_writing(tmp_path, payload)
    first = run_study(study, tmp_path / "runs")
    assert "Traceback" not in first.stderr, first.stderr
    found = record(tmp_path / "runs" / "faults")
    assert found is not None, f"no record\n{first.stdout}\n{first.stderr}"
    second = run_study(study, tmp_path / "runs")
    assert "Traceback" not in second.stderr, second.stderr
    return found, calls.read_text().count("run"), first


def test_an_integer_too_large_for_a_float_is_a_diverged_run(tmp_path: Path) -> None:
    payload = b'{"step": 1, "val_loss": 2.0}\n{"step": 2, "val_loss": 1' + b"0" * 400 + b"}\n"
    found, executions, _ = run_twice(tmp_path, payload)
    assert executions == 1
    assert found.status == "diverged" and found.diverged_step == 2
    assert "val_loss" in (found.error or "")


def test_a_line_that_is_not_utf8_is_skipped_with_a_warning(tmp_path: Path) -> None:
    payload = (
        b'{"step": 1, "val_loss": 2.0}\n{"step": 2, "val\xff": 1.0}\n{"step": 3, "val_loss": 1.5}\n'
    )
    found, executions, first = run_twice(tmp_path, payload)
    assert executions == 1
    assert found.status == "done" and found.final_metrics["val_loss"] == 1.5
    assert any("line 2: not UTF-8" in warning for warning in found.warnings)
    assert "a-s0: metrics.jsonl: 1 line(s) could not be read" in first.stdout


def test_metrics_with_no_readable_line_fail_with_the_reason(tmp_path: Path) -> None:
    found, executions, _ = run_twice(tmp_path, b"\xff\xfe garbage\n")
    assert executions == 1
    assert found.status == "failed"
    assert "line 1: not UTF-8" in (found.error or "")


def test_metrics_that_cannot_be_read_at_all_fail_with_the_reason(tmp_path: Path) -> None:
    script = "import os; p = os.environ['HARNESS_RUN_DIR'] + '/metrics.jsonl'\n"
    script += "os.remove(p) if os.path.exists(p) else None; os.mkdir(p)\n"
    study = write_study(tmp_path, script)
    run_study(study, tmp_path / "runs")
    found = record(tmp_path / "runs" / "faults")
    assert found is not None and found.status == "failed"
    assert "metrics.jsonl cannot be read" in (found.error or "")


@pytest.mark.parametrize("last", [b"null", b'"n/a"'])
def test_a_last_report_that_is_not_a_number_is_a_warning(tmp_path: Path, last: bytes) -> None:
    payload = b'{"step": 1, "val_loss": 2.0}\n{"step": 2, "val_loss": ' + last + b"}\n"
    found, executions, first = run_twice(tmp_path, payload)
    assert executions == 1
    assert found.status == "done" and found.final_metrics["val_loss"] == 2.0
    (warning,) = found.warnings
    assert "val_loss: the last report (step 2) is" in warning and "not a number" in warning
    assert "warning: a-s0: val_loss: the last report (step 2)" in first.stdout


def test_1e308_counts_as_diverged_not_as_a_number_to_average(tmp_path: Path) -> None:
    # the mean of two 1e308 is inf: no value this large may reach a verdict
    payload = b'{"step": 1, "val_loss": 2.0}\n{"step": 2, "val_loss": 1e308}\n'
    found, executions, _ = run_twice(tmp_path, payload)
    assert executions == 1
    assert found.status == "diverged" and found.diverged_step == 2
    assert "too large for statistics" in (found.error or "")


def test_a_results_file_with_a_huge_integer_ends_in_a_record(tmp_path: Path) -> None:
    script = "import os\nopen(os.environ['HARNESS_RUN_DIR'] + '/r.jsonl', 'w').write("
    script += "'{\"step\": 1' + '0' * 400 + ', \"val_loss\": 1' + '0' * 400 + '}\\n')\n"
    study = write_study(tmp_path, script, base='metrics = { file = "{run_dir}/r.jsonl" }')
    run_study(study, tmp_path / "runs")
    found = record(tmp_path / "runs" / "faults")
    assert found is not None and found.status == "diverged"


# -- the reader on any bytes ------------------------------------------------------------------

JSONISH = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [b"{", b"}", b'"step":', b'"val_loss":', b"1" * 400, b"1e308", b"NaN", b"null",
             b"-Infinity", b"\n", b",", b"[", b"\xff", b'"x"', b"true", b"9" * 5000]
        ),
    ),
    max_size=30,
).map(b"".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=JSONISH)
def test_any_bytes_give_rows_or_a_clear_problem(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("m") / "metrics.jsonl"
    path.write_bytes(data)
    read = read_metrics_checked(path)
    assert all(isinstance(row, dict) for row in read.rows)
    assert all(problem.startswith("line ") for problem in read.skipped)
    assert read_metrics(path) == read.rows
    finals = final_metrics(read.rows)
    assert all(isinstance(value, float) for value in finals.values())
    bad = first_non_finite(read.rows)
    if bad is None:
        assert all(math.isfinite(value) and abs(value) <= 1e150 for value in finals.values())
    non_numeric_last_reports(read.rows)


@settings(max_examples=200, deadline=None)
@given(data=JSONISH, suffix=st.sampled_from([".json", ".jsonl", ".csv"]))
def test_results_files_of_any_bytes_give_rows_or_a_source_error(
    tmp_path_factory, data: bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("r") / f"results{suffix}"
    path.write_bytes(data)
    try:
        rows = read_results_file(path)
    except MetricSourceError as error:
        assert str(path) in str(error)
        return
    for row in rows:
        assert isinstance(row["step"], int) and abs(row["step"]) < 2**63
        assert all(isinstance(v, float) for k, v in row.items() if k != "step")


@settings(max_examples=200, deadline=None)
@given(data=JSONISH)
def test_printed_output_of_any_bytes_gives_rows(data: bytes) -> None:
    stream = TextStream(LineParser("auto"))
    rows = stream.feed(data) + stream.finish()
    for row in rows:
        assert isinstance(row["step"], int) and abs(row["step"]) < 2**63
