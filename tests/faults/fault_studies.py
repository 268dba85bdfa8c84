"""Small studies whose commands misbehave on purpose, and the CLI run on them for real."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_processes import ROOT, alive, env, pids_in, run, start, wait_for

from harness.store import FileSystemStore, RunKey
from harness.store.records import RunRecord

PYTHON = sys.executable
# Re-exported for the fault tests, which import the CLI helpers from here.
__all__ = ["ROOT", "alive", "env", "pids_in", "wait_for"]


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


def run_study(
    study: Path, runs: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return run(harness_argv(study, runs, *args), timeout=timeout)


def start_study(study: Path, runs: Path, *args: str) -> subprocess.Popen[str]:
    return start(harness_argv(study, runs, *args))


def record(study_dir: Path, variant: str = "a", seed: int = 0) -> RunRecord | None:
    return FileSystemStore(study_dir).read_record(RunKey(variant=variant, seed=seed))


def claim(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "claim.json").read_text())
    except (OSError, ValueError):
        return None


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
