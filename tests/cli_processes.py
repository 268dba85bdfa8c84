"""The CLI run as a real process, and probes of the processes it leaves: shared by the test
rooms that run studies for real (tests/faults, tests/worker).

Not a ``conftest.py``: one under ``tests/`` would put this folder first on ``sys.path`` for
every test and shadow the top-level packages; the rooms that need these helpers put the folder
on ``sys.path`` themselves (as tests/integration/test_bisect_cli.py does for tests/bisect)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    """This process's environment, with wide uncoloured output and no inherited runs dir."""
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    full.pop("HARNESS_RUNS_DIR", None)
    return full


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` from the repository root to its end, its output captured as text."""
    return subprocess.run(
        argv, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout
    )


def start(argv: list[str], **options: object) -> subprocess.Popen[str]:
    """Start ``argv`` from the repository root, its output piped as text."""
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[arg-type]
    )


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pids_in(path: Path) -> list[int]:
    """The pids a command wrote to ``path``, one a line; none while it is missing or partial."""
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []
