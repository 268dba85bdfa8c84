"""Who holds a run: claim contents, and whether the process behind a claim is still there.

A claim names its process by host, pid and the pid's start time (pids are reused). A process
on another host cannot be probed, so its claim stays live only while its heartbeat — the claim
file's mtime, touched every ``HEARTBEAT_INTERVAL_S`` — is younger than ``STALE_AFTER_S``.

A claim also carries an owner token: ``token``, drawn by whoever claimed the run (the
scheduler), and, once a worker has taken the run over, ``worker``, drawn by that worker. A
process acts on a run (runs it, records it, releases it) only while the claim still carries
its token: a worker stopped and resumed after another process took its claim over finds a
token that is not its own and leaves the run alone. While its command runs, the claim also
names the command's process group (``command_pgid``), so that whoever finds the claim
abandoned (its worker killed) can end what the command left running.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from harness.processes import end_process_group, pid_alive, process_start_time, same_process_alive

# A claim from another host counts as abandoned when its heartbeat is older than this.
HEARTBEAT_INTERVAL_S = 15.0
STALE_AFTER_S = 120.0
# Above any pid a kernel hands out (Linux: at most 2**22), within a C int.
MAX_PID = 2**31 - 1


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


def end_claimed_command(claim: dict[str, Any] | None) -> None:
    """End what the command of an abandoned claim left running (its whole process group).

    Only on this host, and only when the group's leader, if still there, is the process the
    claim names (a pid reused since is someone else's).
    """
    if claim is None or claim.get("host") != socket.gethostname():
        return
    pgid = claim.get("command_pgid")
    if not isinstance(pgid, int) or isinstance(pgid, bool) or pgid <= 1:
        return
    start = claim.get("command_start")
    if pid_alive(pgid) and start is not None and process_start_time(pgid) != start:
        return
    end_process_group(pgid, grace_s=0)


def claim_is_live(claim: dict[str, Any], path: Path) -> bool:
    """Whether the process holding a claim is still there.

    On the same host: its pid exists and started when the claim says (pids are reused). On
    another host: its heartbeat (the mtime of ``path``, the claim file) is recent.
    """
    if claim.get("host") == socket.gethostname():
        pid = claim.get("pid")
        # a damaged claim's pid: 0 and -1 would probe whole process groups, 2**70 overflows
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < MAX_PID:
            return False
        return same_process_alive(pid, claim.get("pid_start"))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_S
