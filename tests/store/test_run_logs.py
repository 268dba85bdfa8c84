"""Writing a run's log files never follows a symbolic link (harness.store.run_logs)."""

from __future__ import annotations

from pathlib import Path

from harness.store.run_logs import append_to_log


def test_append_adds_to_the_end_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text("the worker's own lines\n")
    append_to_log(log, "harness: the Ray task ended without a result\n")
    assert log.read_text() == (
        "the worker's own lines\nharness: the Ray task ended without a result\n"
    )


def test_append_creates_a_missing_log(tmp_path: Path) -> None:
    append_to_log(tmp_path / "worker.log", "first\n")
    assert (tmp_path / "worker.log").read_text() == "first\n"


def test_append_replaces_a_link_and_leaves_its_target_alone(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("a file the link points to\n")
    log = tmp_path / "worker.log"
    log.symlink_to(precious)
    append_to_log(log, "harness: the Ray task ended without a result\n")
    assert precious.read_text() == "a file the link points to\n"
    assert not log.is_symlink()
    lines = log.read_text().splitlines()
    assert lines[0] == (
        f"harness: worker.log was a symbolic link to {precious}; it was replaced by this file "
        "(the file it pointed to is untouched)"
    )
    assert lines[1] == "harness: the Ray task ended without a result"
