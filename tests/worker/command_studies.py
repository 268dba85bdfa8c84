"""Small command studies run through the real CLI, for the worker's process tests: a study
file around a Python script, the study run or started as a process, and probes of pids."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_study(root: Path, script: str, *, base: str = "", seeds: int = 1) -> Path:
    """``root/proc.toml``: one variant ``a`` whose command runs ``script`` (Python source)."""
    script_path = root / "proc_script.py"
    script_path.write_text(script)
    study = root / "proc.toml"
    study.write_text(
        "\n".join(
            [
                "[study]",
                'name = "proc"',
                'metric = "val_loss"',
                f"seeds = {seeds}",
                "",
                "[base]",
                f"command = {json.dumps(f'python {script_path} {{seed}}')}",
                base,
                "",
                "[variants.a]",
                "",
            ]
        )
    )
    return study


def harness_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


def study_argv(study: Path, runs: Path, *args: str) -> list[str]:
    return harness_argv(
        "study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb", *args
    )


def env() -> dict[str, str]:
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    full.pop("HARNESS_RUNS_DIR", None)
    return full


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout
    )


def start(argv: list[str], **options: object) -> subprocess.Popen[str]:
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
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
