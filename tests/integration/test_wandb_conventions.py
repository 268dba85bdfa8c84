"""Built-in wandb logging follows the conventions wandb users expect, with real wandb, offline.

The project comes from ``WANDB_PROJECT`` (the study name only when unset; ``[wandb] project``
wins over both), the job type is the command and the tags the study and variant, and a run
killed and run again logs to the same wandb run id. The values are read back from the offline
run's own ``.wandb`` log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb")

SCRIPT = """\
import json, os, sys, time
run_dir = os.environ["HARNESS_RUN_DIR"]
marker = os.path.join(sys.argv[1], "attempted-" + os.environ["HARNESS_SEED"])
if sys.argv[2] == "hang" and not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(120)  # the first attempt hangs until it is killed
with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 1, "val_loss": 2.0 + int(os.environ["HARNESS_SEED"])}) + "\\n")
"""


def write_study(tmp_path: Path, *, mode: str = "done", wandb_table: str = "") -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    study = tmp_path / "study.toml"
    study.write_text(
        f"""
[study]
name = "wandb_conv"
seeds = 1
[wandb]
mode = "offline"
{wandb_table}
[base]
command = "python {tmp_path}/train.py {tmp_path} {mode}"
[variants.plain]
"""
    )
    return study


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(extra)
    return env


def harness_study(study: Path, runs: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(runs),
         "--no-progress"],
        capture_output=True, text=True, timeout=180, env=env, cwd=study.parent,
    )  # fmt: skip


def offline_runs(runs: Path) -> list[Path]:
    return sorted(runs.glob("wandb_conv/runs/plain/s0/wandb/offline-run-*"))


def run_record(offline_run: Path) -> Any:
    """The ``run`` record of an offline run's ``.wandb`` log (project, job type, tags, id)."""
    from wandb.proto import wandb_internal_pb2

    from harness.worker.wandb_source import log_records

    (log,) = offline_run.glob("*.wandb")
    for chunk in log_records(log.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        if record.WhichOneof("record_type") == "run":
            return record.run
    raise AssertionError(f"no run record in {log}")


def test_project_from_the_environment_job_type_and_tags(tmp_path: Path) -> None:
    study = write_study(tmp_path)
    result = harness_study(study, tmp_path / "runs", environment(WANDB_PROJECT="from-env"))
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = tmp_path / "runs" / "wandb_conv" / "runs" / "plain" / "s0"
    logs = [p.read_text() for p in (run_dir / "output.log", run_dir / "worker.log") if p.exists()]
    assert logs and not any("deprecat" in log.lower() for log in logs)  # no reinit=True

    (offline,) = offline_runs(tmp_path / "runs")
    run = run_record(offline)
    assert run.project == "from-env"
    assert run.run_group == "wandb_conv"
    assert run.job_type == "study"
    assert list(run.tags) == ["wandb_conv", "plain"]
    assert run.display_name == "plain-s0"
    assert offline.name.endswith(run.run_id)
    # the summary says how to upload the offline runs
    assert "wandb sync" in " ".join(result.stdout.split())


def test_the_study_files_project_wins_and_the_study_name_is_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    study = write_study(tmp_path / "a", wandb_table='project = "from-file"')
    result = harness_study(study, tmp_path / "a" / "runs", environment(WANDB_PROJECT="from-env"))
    assert result.returncode == 0, result.stderr
    assert run_record(offline_runs(tmp_path / "a" / "runs")[0]).project == "from-file"

    (tmp_path / "b").mkdir()
    study = write_study(tmp_path / "b")
    result = harness_study(study, tmp_path / "b" / "runs", environment())
    assert result.returncode == 0, result.stderr
    assert run_record(offline_runs(tmp_path / "b" / "runs")[0]).project == "wandb_conv"


def test_a_killed_run_rerun_resumes_the_same_wandb_run(tmp_path: Path) -> None:
    study = write_study(tmp_path, mode="hang")
    runs = tmp_path / "runs"
    first = subprocess.Popen(
        [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(runs),
         "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(),
        cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        # killed once wandb has started its run and the command hangs
        while not (offline_runs(runs) and (tmp_path / "attempted-0").exists()):
            assert time.monotonic() < deadline, "the first attempt never started"
            assert first.poll() is None, "the first attempt ended by itself"
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not (runs / "wandb_conv" / "runs" / "plain" / "s0" / "record.json").exists()

    result = harness_study(study, runs, environment())

    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((runs / "wandb_conv" / "runs" / "plain" / "s0" / "record.json").read_text())
    assert record["status"] == "done"
    attempts = offline_runs(runs)
    assert len(attempts) == 2  # one directory per attempt ...
    # ... named after the run id (the killed attempt's log was never flushed, so its name is
    # what it left), and the rerun logs under that same id
    ids = {attempt.name.rsplit("-", 1)[-1] for attempt in attempts}
    assert ids == {run_record(attempts[-1]).run_id}
