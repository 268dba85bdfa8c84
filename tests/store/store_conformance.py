"""The conformance suite every results store passes (in the manner of optuna's StorageTestCase).

A store joins the suite by adding its factory to ``STORE_FACTORIES`` in ``test_store.py``: a
picklable callable taking the study directory and returning a :class:`harness.store.Store`
(picklable because the concurrency tests rebuild the store in freshly spawned processes).

Claim owners are what ``harness.store.claim_owner`` returns: a process is identified
by its host and pid, and a claim whose process is gone is stale and may be taken over.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import process_start_time
from harness.store import RunConfigFile, RunKey, Store, StudyMeta, claim_owner
from harness.store.records import RunRecord

StoreFactory = Callable[[Path], Store]
SPAWN = multiprocessing.get_context("spawn")
PROCESS_TIMEOUT_S = 60


def make_record(variant: str = "a", seed: int = 0, **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "study": "conformance",
        "variant": variant,
        "seed": seed,
        "kind": "command",
        "config_hash": "0123456789abcdef",
        "status": "done",
        "final_metrics": {"val_loss": 2.5, "train_loss": 2.25},
        "provenance": {"host": "somewhere", "git_commit": None},
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": "2026-01-01T00:01:00+00:00",
        "wall_time_s": 60.0,
    }
    fields.update(changes)
    return RunRecord(**fields)


def make_config(variant: str = "a", seed: int = 0, **config: Any) -> RunConfigFile:
    resolved = config or {"command": "python train.py --seed {seed}", "env": {"A": "1"}}
    return RunConfigFile(
        study="conformance",
        variant=variant,
        seed=seed,
        kind="command",
        config=resolved,
        config_hash=f"{variant}-{seed}-hash",
    )


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def owner_for(pid: int, role: str = "test") -> dict[str, Any]:
    """A claim naming process ``pid`` (with its start time: a claim without one proves
    nothing)."""
    return {**claim_owner(role), "pid": pid, "pid_start": process_start_time(pid)}


# -- processes used by the concurrency tests (module level: spawn imports them by name) ------


def _claim_all(
    factory: StoreFactory,
    study_dir: Path,
    keys: list[RunKey],
    start: Any,
    finish: Any,
    results: Any,
) -> None:
    store = factory(study_dir)
    owner = claim_owner("racer")
    start.wait()
    won = [key for key in keys if store.try_claim(key, owner)]
    results.put((os.getpid(), won))
    # Stay alive until every racer is done: a claim whose owner has exited is stale, and a
    # slower racer would rightly take it over.
    finish.wait()


def _write_records(
    factory: StoreFactory, study_dir: Path, writer: int, keys: list[RunKey], rounds: int, start: Any
) -> None:
    store = factory(study_dir)
    start.wait()
    for round_ in range(rounds):
        for key in keys:
            store.write_record(
                make_record(
                    key.variant,
                    key.seed,
                    final_metrics={"writer": float(writer), "round": float(round_)},
                    output_tail=f"{writer}" * 20_000,
                )
            )


def _read_records(
    factory: StoreFactory, study_dir: Path, keys: list[RunKey], stop: Any, problems: Any
) -> None:
    """Read every record in a loop; report torn reads and records that vanish once seen."""
    store = factory(study_dir)
    seen: set[RunKey] = set()
    reads = 0
    while not stop.is_set():
        for key in keys:
            try:
                record = store.read_record(key)
            except Exception as error:
                problems.put(f"{key}: read raised {error!r}")
                continue
            reads += 1
            if record is None:
                if key in seen:
                    problems.put(f"{key}: its record vanished after being read")
                continue
            seen.add(key)
            writer = int(record.final_metrics["writer"])
            if record.output_tail != f"{writer}" * 20_000:
                problems.put(f"{key}: a record mixing two writes")
    problems.put(("reads", reads))


def _rewrite_forever(factory: StoreFactory, study_dir: Path, written: Any) -> None:
    """Overwrite one run's record with ever new versions until killed."""
    store = factory(study_dir)
    version = 0
    while True:
        version += 1
        store.write_record(
            make_record(
                final_metrics={"version": float(version)},
                output_tail=str(version % 10) * 400_000,
            )
        )
        written.value = version


def _claim_and_hang(factory: StoreFactory, study_dir: Path, ready: Any) -> None:
    """A worker that plans and claims a run, then dies before writing its record."""
    store = factory(study_dir)
    key = RunKey(variant="a", seed=0)
    store.write_config(make_config())
    assert store.try_claim(key, claim_owner("worker"))
    ready.set()
    time.sleep(PROCESS_TIMEOUT_S)


def _start(target: Callable[..., None], *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _join_all(processes: list[Any]) -> None:
    for process in processes:
        process.join(PROCESS_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            raise AssertionError(f"process {process.pid} did not finish")
        assert process.exitcode == 0, f"process {process.pid} exited with {process.exitcode}"


class StoreConformance:
    """The behaviour every store must show. Needs a ``store_factory`` fixture."""

    @pytest.fixture
    def study_dir(self, tmp_path: Path) -> Path:
        return tmp_path / "study"

    @pytest.fixture
    def store(self, store_factory: StoreFactory, study_dir: Path) -> Store:
        return store_factory(study_dir)

    @pytest.fixture
    def live_process(self) -> Iterator[int]:
        """The pid of another process that stays alive for the test."""
        process = subprocess.Popen(["sleep", "600"])
        try:
            yield process.pid
        finally:
            process.kill()
            process.wait()

    # -- round trips ----------------------------------------------------------------------

    def test_study_meta_round_trip(self, store: Store) -> None:
        assert store.read_study_meta() is None
        meta = StudyMeta(name="conformance", seeds=(0, 1), variants=("a", "b"), other={"x": None})
        store.write_study_meta(meta)
        assert store.read_study_meta() == meta
        store.write_study_meta(dataclasses.replace(meta, seeds=(0, 1, 2)))
        stored = store.read_study_meta()
        assert stored is not None and stored.seeds == (0, 1, 2)

    def test_config_round_trip(self, store: Store) -> None:
        key = RunKey(variant="a", seed=3)
        assert store.read_config(key) is None
        config = make_config("a", 3, command="python x.py", env={"B": "2"}, params={"lr": 1e-3})
        store.write_config(config)
        assert store.read_config(key) == config
        assert store.read_config(RunKey(variant="a", seed=4)) is None

    def test_record_round_trip(self, store: Store) -> None:
        key = RunKey(variant="a", seed=0)
        assert store.read_record(key) is None
        record = make_record(error=None, output_tail="line 1\nline 2 ünïcode\n")
        store.write_record(record)
        assert store.read_record(key) == record

    def test_diverged_record_keeps_its_non_finite_value(self, store: Store) -> None:
        record = make_record(
            status="diverged",
            final_metrics={"train_loss": math.nan, "val_loss": math.inf},
            error="train_loss became nan at step 7",
            diverged_step=7,
        )
        store.write_record(record)
        stored = store.read_record(RunKey(variant="a", seed=0))
        assert stored is not None
        assert stored.status == "diverged"
        assert stored.diverged_step == 7
        assert math.isnan(stored.final_metrics["train_loss"])
        assert stored.final_metrics["val_loss"] == math.inf

    def test_run_keys_lists_planned_runs_in_variant_then_numeric_seed_order(
        self, store: Store
    ) -> None:
        assert list(store.run_keys()) == []
        for variant, seed in [("b", 0), ("a", 10), ("a", 2), ("b", 1)]:
            store.write_config(make_config(variant, seed))
        assert [(k.variant, k.seed) for k in store.run_keys()] == [
            ("a", 2),
            ("a", 10),
            ("b", 0),
            ("b", 1),
        ]

    def test_run_dirs_are_distinct(self, store: Store) -> None:
        dirs = {store.run_dir(RunKey(variant=v, seed=s)) for v in ("a", "b") for s in (0, 1)}
        assert len(dirs) == 4

    # -- status ---------------------------------------------------------------------------

    def test_status_goes_pending_running_done(self, store: Store) -> None:
        key = RunKey(variant="a", seed=0)
        assert store.status(key) == "pending"
        store.write_config(make_config())
        assert store.status(key) == "pending"
        assert store.try_claim(key, claim_owner("runner"))
        assert store.status(key) == "running"
        store.write_record(make_record())
        assert store.status(key) == "done"
        store.release(key)
        assert store.status(key) == "done"

    @pytest.mark.parametrize("status", ["failed", "diverged"])
    def test_final_statuses(self, store: Store, status: str) -> None:
        store.write_config(make_config())
        store.write_record(make_record(status=status, error="boom"))
        assert store.status(RunKey(variant="a", seed=0)) == status

    def test_release_makes_a_run_pending_again(self, store: Store) -> None:
        key = RunKey(variant="a", seed=0)
        assert store.try_claim(key, claim_owner("runner"))
        store.release(key)
        assert store.status(key) == "pending"
        store.release(key)  # releasing twice is harmless

    # -- claims ---------------------------------------------------------------------------

    def test_claims_are_exclusive_while_the_owner_lives(
        self, store: Store, live_process: int
    ) -> None:
        key = RunKey(variant="a", seed=0)
        assert store.try_claim(key, owner_for(live_process, "first"))
        assert not store.try_claim(key, claim_owner("second"))
        assert not store.try_claim(key, owner_for(os.getpid(), "third"))
        assert store.status(key) == "running"
        # other runs are not affected
        assert store.try_claim(RunKey(variant="a", seed=1), claim_owner("second"))
        assert store.try_claim(RunKey(variant="b", seed=0), claim_owner("second"))

    def test_a_released_claim_can_be_taken(self, store: Store, live_process: int) -> None:
        key = RunKey(variant="a", seed=0)
        assert store.try_claim(key, owner_for(live_process))
        store.release(key)
        assert store.try_claim(key, claim_owner("next"))

    def test_a_stale_claim_is_taken_over(self, store: Store) -> None:
        key = RunKey(variant="a", seed=0)
        store.write_config(make_config())
        assert store.try_claim(key, owner_for(dead_pid(), "crashed"))
        assert store.status(key) == "pending", "a claim whose owner died is not running"
        assert store.try_claim(key, claim_owner("next"))
        assert store.status(key) == "running"
        assert not store.try_claim(key, claim_owner("third"))

    def test_a_claim_whose_pid_was_reused_is_stale(self, store: Store) -> None:
        key = RunKey(variant="a", seed=0)
        reused = {**claim_owner("old"), "pid_start": -1}  # our pid, but another process's start
        assert store.try_claim(key, reused)
        assert store.status(key) == "pending"
        assert store.try_claim(key, claim_owner("new"))

    def test_a_run_killed_before_its_record_is_unfinished(
        self, store_factory: StoreFactory, store: Store, study_dir: Path
    ) -> None:
        ready = SPAWN.Event()
        process = _start(_claim_and_hang, store_factory, study_dir, ready)
        try:
            assert ready.wait(PROCESS_TIMEOUT_S)
            key = RunKey(variant="a", seed=0)
            assert store.status(key) == "running"
            assert not store.try_claim(key, claim_owner("runner"))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.join(PROCESS_TIMEOUT_S)
        assert store.read_record(key) is None
        assert store.status(key) == "pending"
        assert store.try_claim(key, claim_owner("runner"))

    # -- concurrency ----------------------------------------------------------------------

    @pytest.mark.parametrize("stale_first", [False, True], ids=["fresh", "stale"])
    def test_concurrent_claims_give_each_run_to_exactly_one_process(
        self, store_factory: StoreFactory, store: Store, study_dir: Path, stale_first: bool
    ) -> None:
        racers = 4
        keys = [RunKey(variant=v, seed=s) for v in ("a", "b") for s in range(30)]
        if stale_first:  # every run left claimed by a crashed process: all race to take over
            crashed = owner_for(dead_pid(), "crashed")
            for key in keys:
                assert store.try_claim(key, crashed)
        start, finish = SPAWN.Barrier(racers), SPAWN.Barrier(racers)
        results = SPAWN.Queue()
        processes = [
            _start(_claim_all, store_factory, study_dir, keys, start, finish, results)
            for _ in range(racers)
        ]
        won: dict[RunKey, list[int]] = {}
        for _ in range(racers):
            pid, keys_won = results.get(timeout=PROCESS_TIMEOUT_S)
            for key in keys_won:
                won.setdefault(key, []).append(pid)
        _join_all(processes)
        twice = {str(k): pids for k, pids in won.items() if len(pids) > 1}
        assert not twice, f"runs claimed by more than one process: {twice}"
        assert set(won) == set(keys), "every run is claimed by someone"

    def test_concurrent_record_writers_and_readers(
        self, store_factory: StoreFactory, store: Store, study_dir: Path
    ) -> None:
        writers, rounds = 3, 4
        keys = [RunKey(variant=v, seed=s) for v in ("a", "b") for s in range(5)]
        for key in keys:
            store.write_config(make_config(key.variant, key.seed))
        start = SPAWN.Barrier(writers)
        stop, problems = SPAWN.Event(), SPAWN.Queue()
        reader = _start(_read_records, store_factory, study_dir, keys, stop, problems)
        processes = [
            _start(_write_records, store_factory, study_dir, writer, keys, rounds, start)
            for writer in range(writers)
        ]
        _join_all(processes)
        stop.set()
        found: list[Any] = []
        while True:
            item = problems.get(timeout=PROCESS_TIMEOUT_S)
            found.append(item)
            if isinstance(item, tuple):
                break
        _join_all([reader])
        assert found[:-1] == []
        assert found[-1][1] > 0, "the reader read nothing"
        for key in keys:
            record = store.read_record(key)
            assert record is not None
            assert record.final_metrics["round"] == rounds - 1
            assert record.output_tail == f"{int(record.final_metrics['writer'])}" * 20_000
            assert store.status(key) == "done"

    def test_kill_9_while_writing_never_leaves_a_torn_record(
        self, store_factory: StoreFactory, store: Store, study_dir: Path
    ) -> None:
        key = RunKey(variant="a", seed=0)
        store.write_config(make_config())
        rng = random.Random(1234)
        for _ in range(4):
            written = SPAWN.Value("i", 0)
            process = _start(_rewrite_forever, store_factory, study_dir, written)
            deadline = time.monotonic() + PROCESS_TIMEOUT_S
            while written.value < 1:
                assert time.monotonic() < deadline, "the writer never wrote"
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.04))
            os.kill(process.pid, signal.SIGKILL)
            process.join(PROCESS_TIMEOUT_S)
            last_complete = written.value
            record = store.read_record(key)
            assert record is not None, "a finished record was lost to a crash mid-write"
            version = int(record.final_metrics["version"])
            assert version in (last_complete, last_complete + 1)
            assert record.output_tail == str(version % 10) * 400_000
            assert store.status(key) == "done"
