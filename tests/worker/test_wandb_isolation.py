"""A script's own wandb run is its own: harness's wandb service never reaches the command's
environment, and the run is read once wandb has written its end-of-run record.

The wandb runs here are real (offline, nothing to reach on the network), written by real
scripts in processes of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import RunConfigFile
from harness.study.command_config import CommandConfig
from harness.worker.command import command_env
from harness.worker.wandb_source import read_finished_wandb_run, without_wandb_internals

SCRIPT = """\
import os, signal, sys, wandb
run = wandb.init(dir=sys.argv[1], mode="offline", id=sys.argv[2])
for step in range(3):
    wandb.log({"loss": 1.0 / (step + 1)}, step=step)
if sys.argv[3] == "killed":  # no end-of-run record: the process dies before wandb writes it
    os.kill(os.getpid(), signal.SIGKILL)
# "exit": no wandb.finish(), wandb's exit hook ends the run
"""


def test_the_command_env_has_no_wandb_service(monkeypatch: pytest.MonkeyPatch) -> None:
    # what the warm worker (and harness's own wandb.init) put in the worker's environment
    monkeypatch.setenv("WANDB_SERVICE", "3-123-unix-/tmp/wandb-123/socket")
    monkeypatch.setenv("WANDB__SERVICE_TRANSPORT", "tcp")  # an older wandb's spelling
    monkeypatch.setenv("WANDB_PROJECT", "users-own")  # the user's: kept
    monkeypatch.setenv("WANDB_MODE", "offline")
    planned = RunConfigFile(
        study="s", variant="a", seed=3, kind="command", config={}, config_hash="h"
    )
    env = command_env(planned, CommandConfig(command="true", env={"WANDB_NAME": "x"}), Path("."))
    assert "WANDB_SERVICE" not in env and "WANDB__SERVICE_TRANSPORT" not in env
    assert env["WANDB_PROJECT"] == "users-own" and env["WANDB_MODE"] == "offline"
    assert env["WANDB_NAME"] == "x"  # the study's env table
    assert env["HARNESS_SEED"] == "3"
    assert without_wandb_internals({"WANDB_SERVICE": "x", "A": "1"}) == {"A": "1"}


def run_script(tmp_path: Path, run_id: str, how: str) -> int:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if "WANDB" not in k}
    env.update(WANDB_SILENT="true", WANDB_CONFIG_DIR=str(tmp_path / "home"))
    env.update(WANDB_CACHE_DIR=str(tmp_path / "home"), WANDB_BASE_URL="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), run_id, how], env=env, timeout=120
    )
    return done.returncode


def test_a_run_ended_by_wandbs_exit_hook_is_complete_when_the_script_exits(
    tmp_path: Path,
) -> None:
    pytest.importorskip("wandb")
    assert run_script(tmp_path, "exits1", "exit") == 0
    started = time.monotonic()
    run, unfinished = read_finished_wandb_run(tmp_path, "exits1", wait_s=5.0)
    assert unfinished is None and run.exit_code == 0
    assert time.monotonic() - started < 2.0  # complete at exit: no wait
    assert [row["loss"] for row in run.rows] == [1.0, 0.5, 1.0 / 3]


def test_a_run_that_never_writes_its_end_says_so(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    assert run_script(tmp_path, "killed1", "killed") == -signal.SIGKILL
    started = time.monotonic()
    run, unfinished = read_finished_wandb_run(tmp_path, "killed1", wait_s=1.0)
    waited = time.monotonic() - started
    assert run.exit_code is None and 1.0 <= waited < 5.0  # bounded
    assert unfinished is not None
    assert "no end-of-run record 1 s after the command exited" in unfinished
    assert str(run.path) in unfinished and f"{len(run.rows)} row(s) read" in unfinished


def test_a_command_whose_wandb_run_never_ends_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command exits 0 (a wrapper that ignores its script's death) but the script's wandb
    run never got its end-of-run record: after the bounded wait the run fails, saying why."""
    pytest.importorskip("wandb")
    from harness.study.metrics import MetricsConfig
    from harness.worker import wandb_source
    from harness.worker.command import run_command

    monkeypatch.setattr(wandb_source, "END_OF_RUN_WAIT_S", 1.0)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    planned = RunConfigFile(
        study="s", variant="a", seed=0, kind="command", config={}, config_hash="h"
    )
    command = CommandConfig(
        command=f"{sys.executable} {script} {run_dir} myid killed; exit 0",
        shell=True,
        env={"WANDB_SILENT": "true", "WANDB_CONFIG_DIR": str(tmp_path / "home")},
        metrics=MetricsConfig(wandb=True),
    )
    rows: list[dict[str, float]] = []
    result = run_command(planned, command, run_dir, rows.extend, drop_metrics=print)
    assert result.returncode == 0
    assert result.source_error is not None
    assert result.source_error.startswith("metrics.wandb: the wandb run in ")
    assert "no end-of-run record 1 s after the command exited" in result.source_error
    assert result.warnings == ()  # said once, as the error
