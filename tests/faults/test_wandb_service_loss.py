"""The shared wandb service dying mid-study (issue 33 item 5), with real wandb, offline.

The warm worker starts one ``wandb-core`` that every run's wandb connects to. Killed during a
run, it took wandb logging down for the rest of the study without a word in the summary (each
later run wrote "wandb disabled for this run" to its worker.log only), and the summary still
offered ``wandb sync`` for runs that held nothing. Now a run that finds the shared service gone
starts a service of its own, and the summary names every run whose wandb log is missing or
ends early, read back from wandb's own ``.wandb`` logs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import FileSystemStore, RunKey
from harness.worker.wandb_sink import wandb_logged
from harness.worker.wandb_source import wandb_run_id

pytest.importorskip("wandb")

ROWS = 12
SCRIPT = f"""\
import json, os, sys, time
seed = int(sys.argv[1])
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    for step in range(1, {ROWS + 1}):
        f.write(json.dumps({{"step": step, "val_loss": 2.0 + seed + 1 / step}}) + "\\n")
        f.flush()
        time.sleep(0.15)
"""
SEEDS = 4


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wandb_core_of(pid: int) -> list[int]:
    """The ``wandb-core`` processes among ``pid``'s descendants."""
    found = []
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if command.endswith(b"wandb-core"):
            found.append(child)
    return found


def rows_written(run_dir: Path) -> int:
    try:
        return len((run_dir / "metrics.jsonl").read_text().splitlines())
    except OSError:
        return 0


def test_a_lost_wandb_service_is_replaced_and_the_summary_names_what_was_not_logged(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    study = tmp_path / "study.toml"
    study.write_text(
        "\n".join(
            [
                "[study]",
                'name = "wb"',
                f"seeds = {SEEDS}",
                'metric = "val_loss"',
                "[wandb]",
                'mode = "offline"',
                "[base]",
                f"command = {json.dumps(f'{sys.executable} {tmp_path}/train.py {{seed}}')}",
                "[variants.a]",
            ]
        )
        + "\n"
    )
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(COLUMNS="250", NO_COLOR="1")
    argv = [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(runs)]
    process = subprocess.Popen(
        [*argv, "--no-progress", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    store = FileSystemStore(runs / "wb")
    victim = store.run_dir(RunKey(variant="a", seed=1))
    try:
        deadline = time.monotonic() + 120
        while rows_written(victim) < 3:  # seed 1 is logging: its wandb run is live
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "seed 1 never started"
            time.sleep(0.05)
        (core,) = wandb_core_of(process.pid)  # the one shared service
        os.kill(core, signal.SIGKILL)
        out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, out + err
    assert "Traceback" not in out + err

    logged = {}
    for seed in range(SEEDS):
        key = RunKey(variant="a", seed=seed)
        record = store.read_record(key)
        assert record is not None and record.status == "done", "wandb never costs a result"
        run_id = wandb_run_id(study="wb", variant="a", seed=seed, config_hash=record.config_hash)
        logged[seed] = wandb_logged(store.run_dir(key), run_id)
    assert logged[0].finished and logged[0].rows == ROWS
    # the runs after the loss started a service of their own and were logged in full
    assert logged[2].finished and logged[2].rows == ROWS
    assert logged[3].finished and logged[3].rows == ROWS
    assert not logged[1].finished, "seed 1's wandb log ends where its service died"

    summary = " ".join(out.split())
    assert "wandb: 3 of the 4 run(s) finished now were logged in full" in summary
    named = summary[summary.index("wandb: 3 of the 4") :]
    assert "a-s1" in named.split("every run's metrics")[0]
    for seed in (0, 2, 3):
        assert f"a-s{seed}" not in named.split("every run's metrics")[0]
    assert (
        "shared service is gone"
        in (store.run_dir(RunKey(variant="a", seed=2)) / "worker.log").read_text()
    )
