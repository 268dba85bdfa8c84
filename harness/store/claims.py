"""Who holds a run: claim contents, and whether the process behind a claim is still there.

A claim names its process by host, pid and the pid's start time (pids are reused). A process
on another host cannot be probed, so its claim stays live only while its heartbeat — the claim
file's mtime, touched every ``HEARTBEAT_INTERVAL_S`` — is younger than ``STALE_AFTER_S``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from harness.processes import process_start_time, same_process_alive

# A claim from another host counts as abandoned when its heartbeat is older than this.
HEARTBEAT_INTERVAL_S = 15.0
STALE_AFTER_S = 120.0


def claim_owner(role: str) -> dict[str, Any]:
    """The claim content identifying this process.

    Args:
        role: what the process does with the run ("runner", "worker", "tune", "bisect" ...).

    Returns:
        ``{"host", "pid", "pid_start", "role", "claimed_at"}``.
    """
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": process_start_time(pid),
        "role": role,
        "claimed_at": time.time(),
    }


def claim_is_live(claim: dict[str, Any], path: Path) -> bool:
    """Whether the process holding a claim is still there.

    On the same host: its pid exists and started when the claim says (pids are reused). On
    another host: its heartbeat (the mtime of ``path``, the claim file) is recent.
    """
    if claim.get("host") == socket.gethostname():
        pid = claim.get("pid")
        if not isinstance(pid, int):
            return False
        return same_process_alive(pid, claim.get("pid_start"))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_S
