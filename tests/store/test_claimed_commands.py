"""A stale claim names its command's process group: a take-over ends only what is proved to
be that command's (issue 33 item 6). Real process groups, real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_conformance import dead_pid, make_config

from harness.processes import process_start_time
from harness.store import FileSystemStore, RunKey, claim_owner

KEY = RunKey(variant="a", seed=0)

# The leader of a process group (a session of its own): starts a child in its group, says the
# child's pid, and exits when its input says so.
LEADER = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
sys.stdin.readline()
"""


class Group:
    """A real process group: its leader (while it lives) and one child."""

    def __init__(self, env: dict[str, str]) -> None:
        self.leader = subprocess.Popen(
            [sys.executable, "-c", LEADER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
            start_new_session=True,
        )
        assert self.leader.stdout is not None
        self.child = int(self.leader.stdout.readline())
        self.pgid = self.leader.pid
        start = process_start_time(self.pgid)
        assert start is not None
        self.leader_start = start

    def leader_exits(self) -> None:
        """The leader exits (and is reaped); its child lives on in the group."""
        assert self.leader.stdin is not None
        self.leader.stdin.write("\n")
        self.leader.stdin.flush()
        self.leader.wait(timeout=10)

    def child_alive(self) -> bool:
        try:
            state = Path(f"/proc/{self.child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    def end(self) -> None:
        for pid in (self.child, self.leader.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.leader.wait(timeout=10)


@pytest.fixture
def store(tmp_path: Path) -> FileSystemStore:
    store = FileSystemStore(tmp_path / "study")
    store.write_config(make_config())
    return store


@pytest.fixture
def groups() -> Iterator[list[Group]]:
    started: list[Group] = []
    yield started
    for group in started:
        group.end()


def _stale_claim(store: FileSystemStore, **command: Any) -> None:
    """An abandoned claim on the run (its worker is gone) naming a command's group."""
    claim = {**claim_owner("worker"), "pid": dead_pid(), "pid_start": None, **command}
    assert store.try_claim(KEY, claim)
    assert store.live_claim(KEY) is None


def _run_env(store: FileSystemStore) -> dict[str, str]:
    """The environment a command of the run (and all it starts) has."""
    return {"HARNESS_RUN_DIR": str(store.run_dir(KEY).resolve())}


def test_a_stale_claim_never_ends_a_group_that_reused_its_commands_group_id(
    store: FileSystemStore, groups: list[Group]
) -> None:
    # the claimed command's group is long gone; its id now names a group of someone else's
    # whose leader has exited too (a daemon's worker, a shell job's pipeline)
    groups.append(unrelated := Group(env={}))
    unrelated.leader_exits()
    _stale_claim(store, command_pgid=unrelated.pgid, command_start=unrelated.leader_start - 1)
    assert store.try_claim(KEY, claim_owner("runner"))  # the resume takes the run over
    assert unrelated.child_alive(), "a resume killed a process group that is not its command's"


def test_a_stale_claim_without_its_commands_start_time_ends_nothing(
    store: FileSystemStore, groups: list[Group]
) -> None:
    groups.append(unrelated := Group(env={}))
    _stale_claim(store, command_pgid=unrelated.pgid)  # damaged, or from an older harness
    assert store.try_claim(KEY, claim_owner("runner"))
    assert unrelated.child_alive()


def test_a_stale_claim_never_ends_a_group_whose_leader_started_later(
    store: FileSystemStore, groups: list[Group]
) -> None:  # companion: held before
    groups.append(unrelated := Group(env={}))
    _stale_claim(store, command_pgid=unrelated.pgid, command_start=unrelated.leader_start - 1)
    assert store.try_claim(KEY, claim_owner("runner"))
    assert unrelated.child_alive() and unrelated.leader.poll() is None


@pytest.mark.parametrize("leader", ["alive", "exited"])
def test_a_take_over_ends_what_the_claimed_command_left_running(
    store: FileSystemStore, groups: list[Group], leader: str
) -> None:  # companion: the proof must not cost the ending of a dead worker's command
    groups.append(ours := Group(env=_run_env(store)))
    if leader == "exited":
        ours.leader_exits()
    _stale_claim(store, command_pgid=ours.pgid, command_start=ours.leader_start)
    assert store.try_claim(KEY, claim_owner("runner"))
    assert not ours.child_alive()
