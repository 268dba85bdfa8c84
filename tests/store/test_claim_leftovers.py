"""Claims that prove nothing, and what writers killed mid-write leave: each gets a clean
outcome (issue 33 item 8). Real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_conformance import make_config

from harness.errors import StoreWarning
from harness.store import FileSystemStore, RunKey, claim_owner

KEY = RunKey(variant="a", seed=0)

# Writes the claim atomically but is killed while the temporary file is being written.
KILLED_WRITER = """
import sys, time
from pathlib import Path
from harness.store.atomic import atomic_write_with

def write(tmp):
    tmp.write_text('{"token": "half')
    print("writing", flush=True)
    time.sleep(60)

atomic_write_with(Path(sys.argv[1]), write)
"""


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    store = FileSystemStore(tmp_path / "study")
    store.write_config(make_config())
    return store


def test_a_claim_naming_a_live_pid_without_its_start_time_is_not_running_forever(
    store: FileSystemStore,
) -> None:
    # a long-lived process that has nothing to do with the run holds the pid
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = {**claim_owner("worker"), "pid": bystander.pid}
        del claim["pid_start"]
        assert store.try_claim(KEY, claim)
        with pytest.warns(StoreWarning, match="without the time that process started"):
            assert store.status(KEY) == "pending"
        with pytest.warns(StoreWarning, match=str(store.paths(KEY).claim)):
            assert store.try_claim(KEY, claim_owner("runner"))  # a resume takes it over
        assert store.status(KEY) == "running"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_temporary_files_of_writers_killed_mid_write_do_not_accumulate(
    store: FileSystemStore,
) -> None:
    run_dir = store.run_dir(KEY)
    leftovers = []
    for _ in range(3):  # three attempts, each killed while writing the claim
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(store.paths(KEY).claim)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    leftovers = sorted(run_dir.glob(".claim.json.*.tmp"))
    assert len(leftovers) == 3
    hour_ago = time.time() - 3600
    for path in leftovers:
        os.utime(path, (hour_ago, hour_ago))
    in_flight = run_dir / f".record.json.{'0' * 32}.tmp"  # another writer's, still writing
    in_flight.write_text("{")
    users = run_dir / ".notes.tmp"  # not harness's
    users.write_text("mine")
    os.utime(users, (hour_ago, hour_ago))

    assert store.try_claim(KEY, claim_owner("runner"))
    assert not any(path.exists() for path in leftovers)
    assert in_flight.exists() and users.read_text() == "mine"
