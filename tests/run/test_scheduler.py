"""The scheduler: claim, submit up to capacity, collect, release, cancel, abandon.

Real runs in a real study directory: tiny command runs (a Python script, no torch) through the
local executor's worker processes, or in this process through the in-process executor.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.executors import Executor, RunPlan
from harness.executors.inprocess import InProcessExecutor
from harness.executors.local import LocalExecutor
from harness.run.scheduler import Scheduler
from harness.store import FileSystemStore, RunKey, claim_owner
from harness.store.records import RunRecord

# Exits with argv[1] once the file argv[2] is gone; logs its working directory.
SCRIPT = """\
import json, os, sys, time
from pathlib import Path

run_dir = Path(os.environ["HARNESS_RUN_DIR"])
(run_dir / "started").touch()
while Path(sys.argv[2]).exists():
    time.sleep(0.05)
with open(run_dir / "metrics.jsonl", "a") as out:
    out.write(json.dumps({"step": 0, "loss": 1.5}) + "\\n")
print("cwd", os.getcwd())
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileSystemStore:
    # Workers record the git state of their directory: keep them out of the checkout.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.py").write_text(SCRIPT)
    return FileSystemStore(tmp_path / "study")


def hold_file(store: FileSystemStore) -> Path:
    return store.study_dir.parent / "hold"


def plan_for(store: FileSystemStore, variant: str, *, exit_code: int = 0) -> RunPlan:
    script = store.study_dir.parent / "script.py"
    config = {
        "command": f"{sys.executable} {script} {{exit_code}} {hold_file(store)}",
        "params": {"exit_code": exit_code},
    }
    key = RunKey(variant=variant, seed=0)
    return RunPlan(
        key=key,
        kind="command",
        config=config,
        config_hash=f"hash-{variant}-{exit_code}",
        run_dir=store.run_dir(key),
        wandb={"mode": "disabled"},
    )


def scheduler_for(
    store: FileSystemStore,
    executor_factory: Callable[[], Executor] | None = None,
    *,
    retry: tuple[str, ...] = (),
) -> Scheduler:
    factory = executor_factory or (lambda: LocalExecutor(jobs=1, threads=1, device="cpu"))
    return Scheduler(store, factory, study_name="sched", role="runner", retry=retry)


def collect_all(
    scheduler: Scheduler, timeout: float = 30.0
) -> list[tuple[RunPlan, RunRecord | None]]:
    """Submit and collect until nothing is queued or in flight."""
    ended: list[tuple[RunPlan, RunRecord | None]] = []
    deadline = time.monotonic() + timeout
    while scheduler.has_work:
        assert time.monotonic() < deadline, "runs did not end"
        scheduler.submit()
        ended += scheduler.collect(0.1)
    return ended


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def claim_of(store: FileSystemStore, plan: RunPlan) -> dict[str, object] | None:
    path = plan.run_dir / "claim.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_claims_and_submits_up_to_capacity_then_collects_records(
    store: FileSystemStore,
) -> None:
    first, second = plan_for(store, "a"), plan_for(store, "b")
    scheduler = scheduler_for(store)
    scheduler.enqueue([first, second])

    submitted = scheduler.submit()
    assert submitted.started == [first] and submitted.busy == []  # capacity 1
    assert scheduler.queued == (second,) and scheduler.in_flight == (first,)
    stored = store.read_config(first.key)
    assert stored is not None and stored.study == "sched" and stored.config == first.config
    assert stored.config_hash == first.config_hash
    assert store.read_config(second.key) is None  # not claimed while queued
    assert claim_of(store, second) is None

    ended = collect_all(scheduler)
    scheduler.close()
    assert [plan for plan, _ in ended] == [first, second]
    assert all(record is not None and record.status == "done" for _, record in ended)
    assert all(store.status(plan.key) == "done" for plan in (first, second))
    assert claim_of(store, first) is None and claim_of(store, second) is None


def test_a_run_held_by_a_live_process_is_busy_and_left_alone(store: FileSystemStore) -> None:
    plan = plan_for(store, "a")
    other = claim_owner("other")
    assert store.try_claim(plan.key, other)
    scheduler = scheduler_for(store)
    scheduler.enqueue([plan])

    submitted = scheduler.submit()
    scheduler.close()
    assert submitted.started == [] and submitted.busy == [plan]
    assert not scheduler.has_work
    assert claim_of(store, plan) == other  # the owner keeps it
    assert store.read_config(plan.key) is None


def test_a_finished_run_is_claimed_again_only_when_its_status_is_retried(
    store: FileSystemStore,
) -> None:
    failing = plan_for(store, "a", exit_code=3)
    first = scheduler_for(store, InProcessExecutor)
    first.enqueue([failing])
    first.submit()
    ((_, record),) = first.collect(0)
    assert record is not None and record.status == "failed"

    again = scheduler_for(store, InProcessExecutor)
    again.enqueue([failing])
    assert again.submit().busy == [failing]
    assert claim_of(store, failing) is None  # the claim taken to look was released

    fixed = plan_for(store, "a", exit_code=0)
    retried = scheduler_for(store, InProcessExecutor, retry=("failed",))
    retried.enqueue([fixed])
    assert retried.submit().started == [fixed]
    stored = store.read_config(fixed.key)
    assert stored is not None and stored.config_hash == fixed.config_hash  # the new config
    ((_, record),) = retried.collect(0)
    assert record is not None and record.status == "done"


def test_cancelled_run_ends_without_record_and_its_claim_is_released(
    store: FileSystemStore,
) -> None:
    hold_file(store).touch()
    running, queued = plan_for(store, "a"), plan_for(store, "b")
    scheduler = scheduler_for(store)
    scheduler.enqueue([running, queued])
    scheduler.submit()
    wait_until(lambda: (running.run_dir / "started").exists())

    scheduler.cancel(queued)
    assert scheduler.queued == ()
    scheduler.cancel(running)
    ended = collect_all(scheduler)
    scheduler.close()

    assert ended == [(running, None)]
    assert claim_of(store, running) is None and store.status(running.key) == "pending"
    assert not (queued.run_dir / "started").exists()
    assert store.status(queued.key) == "pending"


def test_abandon_stops_workers_and_releases_claims_without_records(
    store: FileSystemStore,
) -> None:
    hold_file(store).touch()
    plans = [plan_for(store, name) for name in ("a", "b", "c")]
    scheduler = scheduler_for(store, lambda: LocalExecutor(jobs=2, threads=1, device="cpu"))
    scheduler.enqueue(plans)
    assert scheduler.submit().started == plans[:2]
    wait_until(lambda: all((plan.run_dir / "started").exists() for plan in plans[:2]))

    scheduler.abandon()
    scheduler.close()

    assert not scheduler.has_work
    for plan in plans:
        assert claim_of(store, plan) is None
        assert store.read_record(plan.key) is None
        assert store.status(plan.key) == "pending"  # the next invocation runs them


def test_abandon_keeps_the_record_of_a_run_that_finished(store: FileSystemStore) -> None:
    plan = plan_for(store, "a")
    scheduler = scheduler_for(store)
    scheduler.enqueue([plan])
    scheduler.submit()
    wait_until(lambda: store.read_record(plan.key) is not None)  # ended, not yet collected

    scheduler.abandon()
    scheduler.close()
    record = store.read_record(plan.key)
    assert record is not None and record.status == "done"


def test_in_process_executor_runs_in_its_directory_when_collected(
    store: FileSystemStore, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    plan = plan_for(store, "a")
    scheduler = scheduler_for(store, lambda: InProcessExecutor(cwd=checkout))
    scheduler.enqueue([plan])
    assert scheduler.submit().started == [plan]
    assert store.read_record(plan.key) is None  # submitting does not run it

    ((ended, record),) = scheduler.collect(0)
    scheduler.close()
    assert ended == plan and record is not None and record.status == "done"
    assert record.final_metrics["loss"] == 1.5
    assert f"cwd {checkout}" in (plan.run_dir / "output.log").read_text()
    assert claim_of(store, plan) is None
    assert Path.cwd() == tmp_path  # the directory is changed back


def test_no_executor_is_started_for_nothing(store: FileSystemStore) -> None:
    def refuse() -> Executor:
        raise AssertionError("executor started")

    scheduler = scheduler_for(store, refuse)
    scheduler.abandon()
    scheduler.close()
    assert not scheduler.has_work
