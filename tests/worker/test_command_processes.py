"""What a command leaves running, and how long it has had to run: real commands, real
processes and real signals, run through the CLI (issue 33 items 1 and 7)."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path

from command_studies import (
    alive,
    harness_argv,
    kill,
    pids_in,
    run,
    start,
    study_argv,
    wait_for,
    write_study,
)

from harness.store import FileSystemStore, RunKey

# Forks a child that appends a row to the run's metrics.jsonl every 0.1 s for 5 s, with its
# output (stdout and stderr) closed, so the command's pipe closes when the command exits;
# {session} puts the child in a session of its own (out of the command's process group).
BACKGROUND_WRITER = """
import os, subprocess, sys
metrics = os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl"
code = (
    "import sys, time\\n"
    "for step in range(2, 52):\\n"
    "    time.sleep(0.1)\\n"
    "    with open(sys.argv[1], 'a') as f:\\n"
    "        f.write('{{\\"step\\": %d, \\"val_loss\\": 9.0}}\\\\n' % step)\\n"
)
child = subprocess.Popen(
    [sys.executable, "-c", code, metrics],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    start_new_session={session},
)
open({pids!r}, "w").write(f"{{child.pid}}\\n")
with open(metrics, "a") as f:
    f.write('{{"step": 1, "val_loss": 1.0}}\\n')
"""


def _export_curves(study_dir: Path, tmp_path: Path) -> tuple[list[dict[str, str]], str]:
    """The study's curves as `harness export --curves` writes them, and what it printed."""
    out = tmp_path / "curves.csv"
    argv = harness_argv("export", str(study_dir), "--curves", "--format", "csv", "-o", str(out))
    result = run(argv)
    assert result.returncode == 0, result.stdout + result.stderr
    with out.open() as handle:
        return list(csv.DictReader(handle)), result.stderr


def test_a_background_writer_in_the_commands_group_is_ended_when_the_command_exits(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids.txt"
    study = write_study(tmp_path, BACKGROUND_WRITER.format(pids=str(pids), session=False))
    try:
        result = run(study_argv(study, tmp_path / "runs"))
        assert result.returncode == 0, result.stdout + result.stderr
        (child,) = pids_in(pids)
        assert not alive(child), "the command's background writer outlived its recorded run"
        metrics = tmp_path / "runs" / "proc" / "runs" / "a" / "s0" / "metrics.jsonl"
        recorded = metrics.read_bytes()
        time.sleep(0.5)  # five more rows, had the child lived
        assert metrics.read_bytes() == recorded
        record = FileSystemStore(tmp_path / "runs" / "proc").read_record(
            RunKey(variant="a", seed=0)
        )
        assert record is not None and record.metrics_bytes == len(recorded)
    finally:
        kill(pids_in(pids))


def test_rows_appended_after_the_record_change_no_export(tmp_path: Path) -> None:
    # a writer that left the command's process group cannot be ended: what it appends after
    # the record is left out of every table, with a warning naming the file
    pids = tmp_path / "pids.txt"
    study = write_study(tmp_path, BACKGROUND_WRITER.format(pids=str(pids), session=True))
    study_dir = tmp_path / "runs" / "proc"
    metrics = study_dir / "runs" / "a" / "s0" / "metrics.jsonl"
    try:
        result = run(study_argv(study, tmp_path / "runs"))
        assert result.returncode == 0, result.stdout + result.stderr
        record = FileSystemStore(study_dir).read_record(RunKey(variant="a", seed=0))
        assert record is not None and record.final_metrics["val_loss"] == 1.0
        wait_for(lambda: metrics.read_text().count("\n") >= 3, what="rows after the record")
        rows, said = _export_curves(study_dir, tmp_path)
        assert [(row["step"], float(row["val_loss"])) for row in rows] == [("1", 1.0)]
        assert f"{metrics}: " in said and "written after the run was recorded" in said
    finally:
        kill(pids_in(pids))


# Notes its pid, reports its metric, and ends after {seconds} s of its own running time (time
# it spends stopped does not count: it sleeps in short steps), saying so on its output.
RUNS_FOR = """
import os, sys, time
open({pids!r}, "w").write(f"{{os.getpid()}}\\n")
with open(os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl", "a") as f:
    f.write('{{"step": 1, "val_loss": 1.0}}\\n')
for _ in range(int({seconds} / 0.05)):
    time.sleep(0.05)
print("finished", flush=True)
"""


def _pause(pgids: list[int], seconds: float) -> None:
    for pgid in pgids:
        os.killpg(pgid, signal.SIGSTOP)
    time.sleep(seconds)
    for pgid in reversed(pgids):
        os.killpg(pgid, signal.SIGCONT)


def _run_paused(tmp_path: Path, *, seconds: float, pause_command: bool) -> str:
    """Run a one-run study with ``timeout = 3`` whose command runs ``seconds``; stop the study
    (its runner and workers, as Ctrl-Z in its terminal does) for 5 s while the command runs
    (and the command too, with ``pause_command``). Returns how the run ended."""
    pids = tmp_path / "pids.txt"
    study = write_study(
        tmp_path, RUNS_FOR.format(pids=str(pids), seconds=seconds), base="timeout = 3"
    )
    process = start(study_argv(study, tmp_path / "runs"), start_new_session=True)
    try:
        (command,) = wait_for(lambda: pids_in(pids), what="the command")  # type: ignore[misc]
        _pause([process.pid, *([os.getpgid(command)] if pause_command else [])], 5.0)
        out, err = process.communicate(timeout=60)
        record = FileSystemStore(tmp_path / "runs" / "proc").read_record(
            RunKey(variant="a", seed=0)
        )
        assert record is not None, out + err
        return record.status if record.error is None else f"{record.status}: {record.error}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        kill(pids_in(pids))


def test_a_run_that_finished_while_its_study_was_stopped_is_not_timed_out(
    tmp_path: Path,
) -> None:
    # the command (in a session of its own) runs on and ends while its worker is stopped
    assert _run_paused(tmp_path, seconds=1.0, pause_command=False) == "done"


def test_time_spent_stopped_does_not_count_toward_a_runs_timeout(tmp_path: Path) -> None:
    # study and command stopped together for longer than the time limit; 2 s of running time
    # is within the 3 s limit
    assert _run_paused(tmp_path, seconds=2.0, pause_command=True) == "done"


# Notes its pid, reports its metric, then counts 0.05 s steps into a file, 40 of them.
COUNTS = """
import os, time
from pathlib import Path
open({pids!r}, "w").write(f"{{os.getpid()}}\\n")
with open(os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl", "a") as f:
    f.write('{{"step": 1, "val_loss": 1.0}}\\n')
for step in range(40):
    Path({count!r}).write_text(str(step))
    time.sleep(0.05)
"""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def test_ctrl_z_pauses_a_runs_command_with_its_study(tmp_path: Path) -> None:
    pids, count = tmp_path / "pids.txt", tmp_path / "count.txt"
    study = write_study(
        tmp_path, COUNTS.format(pids=str(pids), count=str(count)), base="timeout = 3"
    )
    process = start(study_argv(study, tmp_path / "runs"), start_new_session=True)
    try:
        (command,) = wait_for(lambda: pids_in(pids), what="the command")  # type: ignore[misc]
        wait_for(count.exists, what="the first step")
        os.killpg(process.pid, signal.SIGTSTP)  # Ctrl-Z in the study's terminal
        wait_for(lambda: _state(command) == "T", what="the command to stop with its study")
        steps = count.read_text()
        time.sleep(4.0)  # longer than the run's time limit
        assert count.read_text() == steps, "the command ran on while its study was paused"
        os.killpg(process.pid, signal.SIGCONT)  # fg
        out, err = process.communicate(timeout=60)
        record = FileSystemStore(tmp_path / "runs" / "proc").read_record(
            RunKey(variant="a", seed=0)
        )
        assert record is not None and record.status == "done", out + err + str(record)
        assert count.read_text() == "39"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        kill(pids_in(pids))
