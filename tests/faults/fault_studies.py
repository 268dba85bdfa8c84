"""Small studies whose commands misbehave on purpose, and the CLI run on them for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.store import FileSystemStore, RunKey
from harness.store.records import RunRecord

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]


def write_study(
    root: Path,
    script: str,
    *,
    name: str = "faults",
    base: str = "",
    variants: tuple[str, ...] = ("a",),
    seeds: int = 1,
    command: str = "python {script} {seed}",
) -> Path:
    """A study whose command runs ``script`` (Python source) with the seed as its argument."""
    script_path = root / f"{name}_script.py"
    script_path.write_text(script)
    lines = [
        "[study]",
        f'name = "{name}"',
        'metric = "val_loss"',
        f"seeds = {seeds}",
        "",
        "[base]",
        f"command = {json.dumps(command.replace('{script}', str(script_path)))}",
        base,
        "",
    ]
    lines += [f"[variants.{variant}]\n" for variant in variants]
    path = root / f"{name}.toml"
    path.write_text("\n".join(lines))
    return path


def harness_argv(study: Path, runs: Path, *args: str) -> list[str]:
    return [
        PYTHON, "-m", "harness", "study", str(study), "--runs-dir", str(runs), "--no-progress",
        "--no-wandb", *args,
    ]  # fmt: skip


def env() -> dict[str, str]:
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    full.pop("HARNESS_RUNS_DIR", None)
    return full


def run_study(
    study: Path, runs: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        harness_argv(study, runs, *args),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_study(study: Path, runs: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        harness_argv(study, runs, *args),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def record(study_dir: Path, variant: str = "a", seed: int = 0) -> RunRecord | None:
    return FileSystemStore(study_dir).read_record(RunKey(variant=variant, seed=seed))


def wait_for(condition: Callable[[], object], timeout: float = 8.0, what: str = "") -> object:
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


def claim(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "claim.json").read_text())
    except (OSError, ValueError):
        return None


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
