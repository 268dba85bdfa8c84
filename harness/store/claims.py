"""Who holds a run: claim contents, and whether the process behind a claim is still there.

A claim names its process by host, pid and the pid's start time (pids are reused). A process
on another host cannot be probed, so its claim stays live only while its heartbeat — the claim
file's mtime, touched every ``HEARTBEAT_INTERVAL_S`` — is younger than ``STALE_AFTER_S``.

A claim also carries an owner token: ``token``, drawn by whoever claimed the run (the
scheduler), and, once a worker has taken the run over, ``worker``, drawn by that worker. A
process acts on a run (runs it, records it, releases it) only while the claim still carries
its token: a worker stopped and resumed after another process took its claim over finds a
token that is not its own and leaves the run alone. While its command runs, the claim also
names the command's process group (``command_pgid``) and its leader's start time
(``command_start``), so that whoever finds the claim abandoned (its worker killed) can end
what the command left running, and nothing else (:func:`end_claimed_command`).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from harness.processes import (
    end_members,
    end_process_group,
    environment_value,
    pid_alive,
    process_start_time,
    same_process_alive,
)

# A claim from another host counts as abandoned when its heartbeat is older than this.
HEARTBEAT_INTERVAL_S = 15.0
STALE_AFTER_S = 120.0
# Above any pid a kernel hands out (Linux: at most 2**22), within a C int.
MAX_PID = 2**31 - 1
# The variable a command (and all it starts) inherits naming its run's directory.
RUN_DIR_VARIABLE = "HARNESS_RUN_DIR"


def claim_owner(role: str) -> dict[str, Any]:
    """The claim content identifying this process.

    Args:
        role: what the process does with the run ("runner", "worker", "tune", "bisect" ...).

    Returns:
        ``{"host", "pid", "pid_start", "role", "claimed_at", "token"}``; ``token`` is new for
        every call, so that two claims by one process are told apart.
    """
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": process_start_time(pid),
        "role": role,
        "claimed_at": time.time(),
        "token": uuid.uuid4().hex,
    }


def held_by(claim: dict[str, Any] | None, token: str, worker: str | None = None) -> bool:
    """Whether ``claim`` still carries this owner's token (and, for a worker, its own id)."""
    if claim is None or claim.get("token") != token:
        return False
    return worker is None or claim.get("worker") == worker


def end_claimed_command(claim: dict[str, Any] | None, run_dir: Path) -> None:
    """End what the command of an abandoned claim left running, only what is proved to be it.

    A process group's id is its leader's pid, and is handed out again once the group is gone,
    so a stale claim's ``command_pgid`` may name someone else's group by now. Only on this
    host, and only:

    - the whole group, when its leader is there and started when the claim says
      (``command_start``): the same proof as for a claim's own process;
    - when the leader is gone (the command exited, and what it started lives on in its
      group), each member that started no earlier than the leader and whose environment
      names this run (``HARNESS_RUN_DIR``, which the command and its children inherit).

    A claim without the leader's start time (damaged, or written before harness noted it)
    proves nothing: nothing is ended.

    Args:
        claim: the abandoned claim (None: nothing to end).
        run_dir: the run's directory, as its command was told it.
    """
    if claim is None or claim.get("host") != socket.gethostname():
        return
    pgid, start = claim.get("command_pgid"), claim.get("command_start")
    if not isinstance(pgid, int) or isinstance(pgid, bool) or not 1 < pgid < MAX_PID:
        return
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        return
    leader_start = process_start_time(pgid)
    if leader_start is not None:  # a process has the leader's pid: ours, or the id's reuse
        if leader_start == start:
            end_process_group(pgid, grace_s=0)
        return
    run = str(run_dir.resolve())

    def ours(pid: int) -> bool:
        started = process_start_time(pid)
        return (
            started is not None
            and started >= start
            and environment_value(pid, RUN_DIR_VARIABLE) == run
        )

    end_members(pgid, ours)


def unprovable_claim(claim: dict[str, Any]) -> str | None:
    """Why a claim of this host cannot be proved to be its process's, or None.

    A pid is handed out again once its process is gone, so a claim names its process by pid
    and start time. One without the start time (damaged, hand-written, or from a harness that
    did not note it), on a host whose start times can be read, would count as running for as
    long as any process has that pid: forever, for a long-lived one.

    Returns:
        A sentence naming the pid, for a warning, when a live process has it; None when the
        claim can be judged.
    """
    if claim.get("host") != socket.gethostname() or claim.get("pid_start") is not None:
        return None
    if process_start_time(os.getpid()) is None:  # no start times here: the pid is all we have
        return None
    pid = claim.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < MAX_PID:
        return None  # a damaged pid: no process to confuse it with
    if not pid_alive(pid):
        return None  # abandoned plainly: its process is gone
    return (
        f"it names process {claim.get('pid')!r} without the time that process started, so it "
        "cannot be told from a later process given the same pid"
    )


def claim_is_live(claim: dict[str, Any], path: Path) -> bool:
    """Whether the process holding a claim is still there.

    On the same host: its pid exists and started when the claim says (pids are reused); a
    claim without the start time, where this host tells start times, proves nothing
    (:func:`unprovable_claim`) and is not live. On another host: its heartbeat (the mtime of
    ``path``, the claim file) is recent.
    """
    if claim.get("host") == socket.gethostname():
        pid = claim.get("pid")
        # a damaged claim's pid: 0 and -1 would probe whole process groups, 2**70 overflows
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < MAX_PID:
            return False
        if unprovable_claim(claim):
            return False
        return same_process_alive(pid, claim.get("pid_start"))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_S
