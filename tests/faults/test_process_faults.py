"""Process faults: a killed worker, a background child, SIGTERM to the runner, a stale claim
taken over while its old owner is stopped, ``--fresh`` beside a running study, shell quoting.
Real processes and real signals throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from fault_studies import (
    alive,
    claim,
    pids_in,
    record,
    run_study,
    start_study,
    stop,
    wait_for,
    write_study,
)

# A command that starts a background child, notes both pids, reports a metric and then sleeps.
SLEEPS = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open({pids!r} + os.environ["HARNESS_VARIANT"], "w") as f:
    f.write(f"{{os.getpid()}}\\n{{child.pid}}\\n")
print("val_loss 1.0", flush=True)
time.sleep(60)
"""


def test_kill_9_of_a_worker_leaves_no_orphan_command(tmp_path: Path) -> None:
    pids = tmp_path / "pids-"
    study = write_study(tmp_path, SLEEPS.format(pids=str(pids)))
    runner = start_study(study, tmp_path / "runs")
    try:
        run_dir = tmp_path / "runs" / "faults" / "runs" / "a" / "s0"
        wait_for(lambda: len(pids_in(Path(f"{pids}a"))) == 2, what="the command")
        held = wait_for(lambda: (c := claim(run_dir)) and "command_pgid" in c and c, what="claim")
        assert isinstance(held, dict) and held["role"] == "worker"
        os.kill(held["pid"], signal.SIGKILL)
        runner.wait(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in pids_in(Path(f"{pids}a"))), what="orphans")
        assert not (run_dir / "claim.json").exists() and record(run_dir.parents[2]) is None
    finally:
        stop(runner)


BACKGROUND = """
import os, subprocess, sys
code = (
    "import time, os; time.sleep(1.0); "
    "open(os.environ['HARNESS_RUN_DIR'] + '/metrics.jsonl', 'a').write('{{}}\\\\n')"
)
child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
open({pids!r}, "w").write(f"{{child.pid}}\\n")
with open(os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl", "a") as f:
    f.write('{{"step": 1, "val_loss": 1.0}}\\n')
"""


def test_a_background_child_is_ended_before_the_record_is_written(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    study = write_study(tmp_path, BACKGROUND.format(pids=str(pids)))
    result = run_study(study, tmp_path / "runs")
    found = record(tmp_path / "runs" / "faults")
    assert found is not None and found.status == "done", result.stdout + result.stderr
    (child,) = pids_in(pids)
    assert not alive(child)
    time.sleep(1.2)  # when the child would have appended its line
    metrics = tmp_path / "runs" / "faults" / "runs" / "a" / "s0" / "metrics.jsonl"
    assert metrics.read_text().count("\n") == 1


def test_sigterm_to_the_runner_stops_workers_and_releases_claims(tmp_path: Path) -> None:
    pids = tmp_path / "pids-"
    study = write_study(tmp_path, SLEEPS.format(pids=str(pids)), variants=("a", "b"))
    runner = start_study(study, tmp_path / "runs", "--jobs", "2")
    try:
        for variant in "ab":
            wait_for(lambda v=variant: len(pids_in(Path(f"{pids}{v}"))) == 2, what="commands")
        runner.send_signal(signal.SIGTERM)
        _, stderr = runner.communicate(timeout=20)
        assert runner.returncode == 143, stderr
        assert "terminated (SIGTERM)" in stderr and "Traceback" not in stderr
        every = [pid for variant in "ab" for pid in pids_in(Path(f"{pids}{variant}"))]
        wait_for(lambda: not any(alive(pid) for pid in every), what="the commands")
        runs = tmp_path / "runs" / "faults" / "runs"
        assert not list(runs.glob("*/s0/claim.json"))
    finally:
        stop(runner)


# Runs for about a second, counting its starts and ends in a file outside the run directory.
COUNTED = """
import os, time
with open({calls!r}, "a") as f:
    f.write(f"start {{os.getpid()}}\\n")
time.sleep(0.5)
with open(os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl", "a") as f:
    f.write('{{"step": 1, "val_loss": 1.0}}\\n')
with open({calls!r}, "a") as f:
    f.write(f"end {{os.getpid()}}\\n")
"""


def test_a_stopped_worker_resumed_after_a_take_over_records_nothing(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    study = write_study(tmp_path, COUNTED.format(calls=str(calls)))
    run_dir = tmp_path / "runs" / "faults" / "runs" / "a" / "s0"
    first = start_study(study, tmp_path / "runs")
    held: object = None
    try:
        held = wait_for(lambda: (c := claim(run_dir)) and "command_pgid" in c and c, what="claim")
        assert isinstance(held, dict)
        worker, group = held["pid"], held["command_pgid"]
        os.kill(worker, signal.SIGSTOP)  # the first worker and its command, frozen mid-run
        os.killpg(group, signal.SIGSTOP)
        first.send_signal(signal.SIGKILL)  # its runner dies
        first.wait()
        # seen from another host, the frozen worker's heartbeat has stopped: its claim is stale
        (run_dir / "claim.json").write_text(json.dumps({**held, "host": "elsewhere"}))
        os.utime(run_dir / "claim.json", (time.time() - 3600, time.time() - 3600))
        second = run_study(study, tmp_path / "runs")
        assert second.returncode == 0, second.stdout + second.stderr
        recorded = (run_dir / "record.json").read_bytes()
        os.killpg(group, signal.SIGCONT)
        os.kill(worker, signal.SIGCONT)
        wait_for(lambda: not alive(worker), what="the first worker to give up")
        time.sleep(1.2)
        assert (run_dir / "record.json").read_bytes() == recorded  # recorded once
        assert calls.read_text().count("end") == 1 + (f"end {group}" in calls.read_text())
        assert not alive(group)
    finally:
        stop(first)
        for pid in (held["pid"], held["command_pgid"]) if isinstance(held, dict) else ():
            if alive(pid):
                os.kill(pid, signal.SIGCONT)


def test_a_worker_started_late_runs_nothing_once_another_finished_the_run(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls.txt"
    study = write_study(tmp_path, COUNTED.format(calls=str(calls)))
    assert run_study(study, tmp_path / "runs").returncode == 0
    run_dir = tmp_path / "runs" / "faults" / "runs" / "a" / "s0"
    recorded = (run_dir / "record.json").read_bytes()
    late = subprocess.run(
        [os.sys.executable, "-m", "harness.worker", str(run_dir)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert late.returncode == 3 and "leaving it alone" in late.stderr
    assert (run_dir / "record.json").read_bytes() == recorded
    assert calls.read_text().count("start") == 1


def test_fresh_beside_a_running_study_is_refused(tmp_path: Path) -> None:
    pids = tmp_path / "pids-"
    study = write_study(tmp_path, SLEEPS.format(pids=str(pids)))
    runner = start_study(study, tmp_path / "runs")
    try:
        wait_for(lambda: len(pids_in(Path(f"{pids}a"))) == 2, what="the command")
        fresh = run_study(study, tmp_path / "runs", "--fresh")
        assert fresh.returncode == 2
        assert "running in another process" in fresh.stderr and "a-s0" in fresh.stderr
        assert [p.name for p in (tmp_path / "runs").iterdir()] == ["faults"]  # not moved
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=20)


def test_shell_placeholders_are_quoted(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    study = write_study(
        tmp_path,
        "import sys; print('step 1: val_loss 1.0'); print(sys.argv[1:])",
        command="python {script} {x} {variant}",
        base="shell = true\nmetrics = { stdout = 'auto' }\n"
        + f'params = {{ x = "; touch {target}" }}',
    )
    result = run_study(study, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not target.exists()
    output = (tmp_path / "runs" / "faults" / "runs" / "a" / "s0" / "output.log").read_text()
    assert f"['; touch {target}', 'a']" in output
