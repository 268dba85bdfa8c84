"""The executor conformance suite: the same tiny study through every executor.

local: worker processes; slurm: submitit's local cluster (the same jobs, callable and
requeue path as on Slurm, run as processes here); ray: a real local Ray cluster. Each must
leave results identical in content to the local executor's, cancel cleanly, and survive a
killed driver without running a run twice at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from executor_helpers import executions, pid_alive, read_json, wait_until

from harness.cli import main as harness
from harness.executors import make_executor
from harness.run.runner import ProgressSink, run_study
from harness.store import load_curves, load_records, load_table
from harness.study.executor import ExecutorSettings
from harness.study.spec import load_study

EXECUTORS = ["local", "slurm", "ray"]
VOLATILE_RECORD_FIELDS = {"started_at", "ended_at", "wall_time_s", "timings"}  # measured
VOLATILE_PROVENANCE = {"host"}


@pytest.fixture(scope="module", params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The executor under test: its name, CLI flags, and flags for a separate driver process."""
    name = request.param
    flags = ["--executor", name, "--jobs", "2"]
    if name == "slurm":
        pytest.importorskip("submitit")
        flags += ["--set", "executor.submitit_cluster=local"]
    other_process: list[str] = []
    if name == "ray":
        other_process = ["--ray-address", request.getfixturevalue("ray_address")]
    return {"name": name, "flags": flags, "other_process": other_process}


@pytest.fixture(scope="module")
def reference(study_file: Path, work_dir: Path) -> dict[str, Any]:
    """The local executor's results for the study: what every executor must reproduce."""
    runs = work_dir / "reference"
    assert study(study_file, runs, "--executor", "local", "--jobs", "2") == 0
    return comparable(runs / "tiny")


def study(study_file: Path, runs: Path, *flags: str) -> int:
    return harness(
        ["study", str(study_file), "--runs-dir", str(runs), "--no-progress", "--no-wandb", *flags]
    )


def comparable(study_dir: Path) -> dict[str, Any]:
    """A study's results without what legitimately differs between executors."""
    records = []
    for record in load_records(study_dir):
        data = {k: v for k, v in record.to_dict().items() if k not in VOLATILE_RECORD_FIELDS}
        data["provenance"] = {
            k: v for k, v in data["provenance"].items() if k not in VOLATILE_PROVENANCE
        }
        records.append(data)
    return {
        "table": load_table(study_dir).sort(["variant", "seed"]).to_dicts(),
        "curves": load_curves(study_dir).sort(["variant", "seed", "step"]).to_dicts(),
        "records": records,
    }


def run_dirs(study_dir: Path, seeds: tuple[int, ...] = (0, 1)) -> list[Path]:
    return [study_dir / "runs" / v / f"s{s}" for s in seeds for v in ("base", "wide")]


def test_study_matches_local_executor(
    executor: dict[str, Any], study_file: Path, work_dir: Path, reference: dict[str, Any]
) -> None:
    runs = work_dir / f"e2e-{executor['name']}"
    assert study(study_file, runs, *executor["flags"]) == 0

    assert comparable(runs / "tiny") == reference
    assert len(reference["table"]) == 4
    for run_dir in run_dirs(runs / "tiny"):
        assert (run_dir / "worker.log").exists()
        if executor["name"] != "local":
            job = read_json(run_dir / "executor.json")
            assert job is not None and job["executor"] == executor["name"]
            assert job["state"] == "FINISHED" and job["returncode"] == 0 and job["error"] is None
    if executor["name"] == "slurm":  # the job's own log is gathered into the run directory
        log = (run_dirs(runs / "tiny")[0] / "slurm.log").read_text()
        assert "harness: worker exited with code 0, record: True" in log

    # Run again: everything is finished, nothing executes a second time.
    assert study(study_file, runs, *executor["flags"]) == 0
    assert len(executions(runs / "tiny")) == 4


class Interrupted(Exception):
    """Stands for Ctrl-C: the runner cancels the executor on any exception."""


class InterruptOnceRunning(ProgressSink):
    """Interrupts the study once both runs' workers and commands are running."""

    def __init__(self, study_dir: Path) -> None:
        self.study_dir = study_dir
        self.workers: list[int] = []
        self.commands: list[int] = []

    def tick(self) -> None:
        claims = [read_json(d / "claim.json") for d in run_dirs(self.study_dir, seeds=(0,))]
        started = executions(self.study_dir)
        if all(c and c.get("role") == "worker" for c in claims) and len(started) == 2:
            self.workers = [c["pid"] for c in claims if c]
            self.commands = [e["pid"] for e in started]
            raise Interrupted


def test_cancel_stops_workers_and_leaves_runs_unfinished(
    executor: dict[str, Any], study_file: Path, work_dir: Path
) -> None:
    runs = work_dir / f"cancel-{executor['name']}"
    study_dir = runs / "tiny"
    study_dir.mkdir(parents=True)
    (study_dir / "hold").touch()
    spec = load_study(study_file, seeds=[0])
    settings = ExecutorSettings(kind=executor["name"], submitit_cluster="local", jobs=2)
    progress = InterruptOnceRunning(study_dir)

    with pytest.raises(Interrupted):
        run_study(
            spec,
            runs_root=runs,
            executor_factory=lambda: make_executor(settings.kind, settings=settings, jobs=2),
            wandb={"mode": "disabled"},
            progress=progress,
            poll_interval=0.2,
        )

    for run_dir in run_dirs(study_dir, seeds=(0,)):
        assert not (run_dir / "record.json").exists()
        assert not (run_dir / "claim.json").exists()  # released: the next invocation reruns it
    for pid in progress.workers + progress.commands:
        wait_until(lambda pid=pid: not pid_alive(pid), timeout=20, what=f"pid {pid} to end")


def test_restarted_driver_skips_finished_and_never_runs_a_run_twice_at_once(
    executor: dict[str, Any], study_file: Path, work_dir: Path, reference: dict[str, Any]
) -> None:
    """Seed 0 finishes; a driver running seed 1 is killed (kill -9); a new driver takes over.

    local: the orphaned workers keep their claims, so the new driver leaves them be.
    slurm: the jobs are still queued; the new driver re-attaches to them instead of
      submitting again (the queue is a gate in the job's setup lines).
    ray: Ray ends a dead driver's tasks, and their workers with them; the new driver reruns.
    """
    name = executor["name"]
    runs = work_dir / f"restart-{name}"
    study_dir = runs / "tiny"
    flags = list(executor["flags"])
    gate = work_dir / f"gate-{name}"
    if name == "slurm":
        flags += ["--set", f'executor.setup=["while [ -e {gate} ]; do sleep 0.1; done"]']
    assert study(study_file, runs, "--seeds", "1", *flags) == 0
    seed1 = run_dirs(study_dir, seeds=(1,))

    if name == "slurm":
        gate.touch()
    else:
        (study_dir / "hold").touch()
    argv = ["study", str(study_file), "--runs-dir", str(runs), "--no-progress", "--no-wandb"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "harness", *argv, *flags, *executor["other_process"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if name == "slurm":  # both jobs submitted, neither started
            wait_until(lambda: all((d / "executor.json").exists() for d in seed1), what="sbatch")
        else:  # both workers running
            wait_until(lambda: len(executions(study_dir)) == 4, what="seed 1 runs to start")
        submitted = [read_json(d / "executor.json") for d in seed1]
        workers = [(read_json(d / "claim.json") or {}).get("pid") for d in seed1]
        driver.kill()
        driver.wait()

        if name == "local":
            assert study(study_file, runs, *flags) == 0  # leaves the running runs alone
            assert not any((d / "record.json").exists() for d in seed1)
            (study_dir / "hold").unlink()
            wait_until(lambda: all((d / "record.json").exists() for d in seed1), what="records")
            assert len(executions(study_dir)) == 4
        elif name == "slurm":
            released = threading.Thread(target=open_gate_once_reattached, args=(seed1, gate))
            released.start()
            assert study(study_file, runs, *flags) == 0
            released.join()
            assert len(executions(study_dir)) == 4  # each run ran exactly once
            for before, run_dir in zip(submitted, seed1, strict=True):
                after = read_json(run_dir / "executor.json")
                assert before and after and after["job_id"] == before["job_id"]
                assert "reattached_at" in after and after["state"] == "FINISHED"
        else:
            for pid in workers:
                wait_until(lambda pid=pid: not pid_alive(pid), what="Ray to end the tasks")
            (study_dir / "hold").unlink()
            assert study(study_file, runs, *flags) == 0
            ran = [(e["variant"], e["seed"]) for e in executions(study_dir)]
            assert sorted(ran) == sorted(
                [("base", 0), ("wide", 0)] + 2 * [("base", 1), ("wide", 1)]
            )
    finally:
        gate.unlink(missing_ok=True)
        if driver.poll() is None:
            driver.kill()
        with_leftovers_killed(driver.pid)

    assert comparable(study_dir) == reference


def test_slurm_preempted_job_is_requeued(
    executor: dict[str, Any], study_file: Path, work_dir: Path
) -> None:
    """USR2 to a running job (what Slurm sends at preemption): it requeues and the run reruns."""
    if executor["name"] != "slurm":
        pytest.skip("Slurm only")
    runs = work_dir / "preempt"
    study_dir = runs / "tiny"
    study_dir.mkdir(parents=True)
    (study_dir / "hold").touch()
    run_dir = study_dir / "runs" / "base" / "s0"

    class PreemptOnce(ProgressSink):
        preempted = False

        def tick(self) -> None:
            claim = read_json(run_dir / "claim.json") or {}
            if not self.preempted and claim.get("role") == "worker" and executions(study_dir):
                job_process = parent_of(claim["pid"])
                os.kill(job_process, signal.SIGUSR2)
                self.preempted = True
            elif self.preempted and len(executions(study_dir)) == 2:
                (study_dir / "hold").unlink(missing_ok=True)

    spec = load_study(study_file, seeds=[0])
    spec = dataclasses.replace(spec, variants=spec.variants[:1])  # the base run only
    settings = ExecutorSettings(kind="slurm", submitit_cluster="local")
    outcome = run_study(
        spec,
        runs_root=runs,
        executor_factory=lambda: make_executor("slurm", settings=settings),
        wandb={"mode": "disabled"},
        progress=PreemptOnce(),
        poll_interval=0.2,
    )

    assert [record.status for record in outcome.executed] == ["done"]
    assert len(executions(study_dir)) == 2  # started, preempted, requeued, ran again
    log = (run_dir / "slurm.log").read_text()
    assert "this job is preempted" in log and "Requeued job" in log


def open_gate_once_reattached(dirs: list[Path], gate: Path) -> None:
    try:
        wait_until(
            lambda: all("reattached_at" in (read_json(d / "executor.json") or {}) for d in dirs),
            what="the new driver to re-attach",
        )
    finally:
        gate.unlink(missing_ok=True)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def with_leftovers_killed(session: int) -> None:
    """Kill what is left of a driver's session (orphaned workers of a failed test)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signal.SIGKILL)
