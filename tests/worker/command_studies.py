"""Small command studies run through the real CLI, for the worker's process tests: a study
file around a Python script, the study run or started as a process, and probes of pids."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_processes import alive, env, pids_in, run, start, wait_for

# Re-exported for the worker tests, which import the CLI helpers from here.
__all__ = ["alive", "env", "pids_in", "run", "start", "wait_for"]


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


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
