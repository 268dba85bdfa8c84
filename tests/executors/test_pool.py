"""The warm worker pool (issue 21): a zygote that imported torch and harness forks each run.

A run through the pool must be what a fresh ``python -m harness.worker`` process makes of
it, bit for bit; a zygote that dies loses no run (the runs it had not started run as fresh
processes); every record says where its time went.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import FileSystemStore, RunKey

TINY_BUILTIN = """\
[study]
name = "tiny_builtin"
metric = "val_loss"
seeds = 2
baseline = "selective"

[base]
model.attention = "selective"
model.n_layer = 1
model.n_head = 2
model.n_embd = 16
model.block_size = 16
data.val_sequences = 8
train.steps = 3
train.batch_size = 4
train.warmup_steps = 1

[variants.selective]
[variants.plain]
model.attention = "mha"
"""

# The first run to start kills the zygote (its worker's parent) with SIGKILL, then finishes.
ZYGOTE_KILLER = """\
import json, os, signal, sys
run_dir = os.environ["HARNESS_RUN_DIR"]
study_dir = os.path.dirname(os.path.dirname(os.path.dirname(run_dir)))
marker = os.path.join(study_dir, "zygote_killed")
worker = os.getppid()
with open(f"/proc/{worker}/stat") as stat:
    zygote = int(stat.read().rsplit(")", 1)[1].split()[1])
if not os.path.exists(marker) and os.environ.get("HARNESS_WORKER_POOL") != "0":
    open(marker, "w").write(str(zygote))
    os.kill(zygote, signal.SIGKILL)
with open(os.path.join(run_dir, "metrics.jsonl"), "a") as out:
    out.write(json.dumps({"step": 1, "loss": 1.0 + int(os.environ["HARNESS_SEED"])}) + "\\n")
"""


def run_study(study_file: Path, runs: Path, *, pool: bool, jobs: int = 2) -> None:
    env = {**os.environ, "HARNESS_WORKER_POOL": "1" if pool else "0"}
    env.pop("HARNESS_RUNS_DIR", None)
    argv = [sys.executable, "-m", "harness", "study", str(study_file), "--runs-dir", str(runs)]
    argv += ["--no-wandb", "--no-progress", "--jobs", str(jobs), "--device", "cpu"]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def final_metrics_bits(study_dir: Path) -> dict[str, dict[str, str]]:
    store = FileSystemStore(study_dir)
    bits = {}
    for key in store.run_keys():
        record = store.read_record(key)
        assert record is not None and record.status == "done", key
        bits[str(key)] = {
            name: value.hex()
            for name, value in record.final_metrics.items()
            if name not in ("tokens_per_s", "peak_memory_mb")  # measured, not computed
        }
    return bits


@pytest.mark.slow
def test_a_run_through_the_pool_is_bit_identical_to_one_in_a_fresh_process(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    study_file = tmp_path / "tiny.toml"
    study_file.write_text(TINY_BUILTIN)
    run_study(study_file, tmp_path / "pool", pool=True)
    run_study(study_file, tmp_path / "fresh", pool=False)
    pooled = final_metrics_bits(tmp_path / "pool" / "tiny_builtin")
    fresh = final_metrics_bits(tmp_path / "fresh" / "tiny_builtin")
    assert len(pooled) == 4
    assert pooled == fresh
    record = FileSystemStore(tmp_path / "pool" / "tiny_builtin").read_record(
        RunKey(variant="plain", seed=1)
    )
    assert record is not None
    assert {"startup_s", "setup_s", "train_s", "eval_s", "wandb_s", "other_s"} <= set(
        record.timings
    )
    assert record.timings["train_s"] > 0 and record.timings["eval_s"] > 0
    assert record.timings["setup_s"] + record.timings["train_s"] <= record.wall_time_s + 0.01


def test_a_killed_zygote_loses_no_run(tmp_path: Path) -> None:
    (tmp_path / "killer.py").write_text(ZYGOTE_KILLER)
    study_file = tmp_path / "killer.toml"
    study_file.write_text(
        "[study]\nname = 'killer'\nmetric = 'loss'\nseeds = 3\nbaseline = 'a'\n\n[base]\n"
        f"command = '{sys.executable} {tmp_path / 'killer.py'} --seed {{seed}}'\n\n"
        "[variants.a]\n[variants.b]\n"
    )
    run_study(study_file, tmp_path / "runs", pool=True, jobs=1)
    study_dir = tmp_path / "runs" / "killer"
    assert (study_dir / "zygote_killed").exists(), "the zygote ran the first run"
    store = FileSystemStore(study_dir)
    statuses = {str(key): store.status(key) for key in store.run_keys()}
    assert statuses == {f"{v}-s{s}": "done" for v in "ab" for s in range(3)}


def test_command_runs_record_where_their_time_went(tmp_path: Path) -> None:
    (tmp_path / "killer.py").write_text(ZYGOTE_KILLER)
    (tmp_path / "runs" / "killer").mkdir(parents=True)
    (tmp_path / "runs" / "killer" / "zygote_killed").write_text("")  # kill nothing
    study_file = tmp_path / "quick.toml"
    study_file.write_text(
        "[study]\nname = 'killer'\nmetric = 'loss'\nseeds = 2\nbaseline = 'a'\n\n[base]\n"
        f"command = '{sys.executable} {tmp_path / 'killer.py'} --seed {{seed}}'\n\n"
        "[variants.a]\n"
    )
    run_study(study_file, tmp_path / "runs", pool=True)
    for path in (tmp_path / "runs" / "killer").glob("runs/*/s*/record.json"):
        timings = json.loads(path.read_text())["timings"]
        assert set(timings) == {"startup_s", "command_s", "wandb_s", "other_s"}
        assert timings["command_s"] > 0
        assert all(value >= 0 for value in timings.values())


def test_the_overhead_line_is_wall_time_minus_the_work_over_the_workers() -> None:
    from harness.report.summary import overhead_line
    from harness.store import RunRecord

    def record(seed: int, timings: dict[str, float]) -> RunRecord:
        return RunRecord(
            study="s", variant="a", seed=seed, kind="builtin", config_hash="h", status="done",
            started_at="2026-11-26T00:00:00+00:00", ended_at="2026-11-26T00:00:10+00:00",
            wall_time_s=10.0, timings=timings,
        )  # fmt: skip

    runs = [
        record(0, {"startup_s": 1.0, "setup_s": 0.5, "train_s": 8.0, "eval_s": 1.0}),
        record(1, {"startup_s": 0.1, "command_s": 9.0, "wandb_s": 0.4}),
        record(2, {}),  # written before timings: counts for nothing
    ]
    line = overhead_line(runs, workers=2, wall_time_s=10.0)
    # work 8 + 1 + 9 = 18 s over 2 workers = 9 s of the 10 s: 1 s (10 %) is harness's
    assert line is not None and line.startswith(
        "harness overhead: 1.0 s of 10.0 s wall time (10 %)"
    )
    assert "2 run(s)'" in line and "(18.0 s) over 2 worker(s)" in line
    assert overhead_line(runs, workers=None, wall_time_s=10.0) is None
    assert overhead_line([runs[2]], workers=2, wall_time_s=10.0) is None


def test_records_without_timings_still_load_and_bad_timings_are_left_out() -> None:
    from harness.store import RunRecord

    data = {
        "study": "s", "variant": "a", "seed": 0, "kind": "command", "config_hash": "h",
        "status": "done", "started_at": "x", "ended_at": "y", "wall_time_s": 1.0,
    }  # fmt: skip
    assert RunRecord.from_dict(data).timings == {}
    odd = RunRecord.from_dict({**data, "timings": {"train_s": 2, "x": "fast", "y": 10**400}})
    assert odd.timings == {"train_s": 2.0}
    assert RunRecord.from_dict(json.loads(odd.to_json())) == odd


def test_ctrl_c_while_the_zygote_starts_prints_no_traceback_and_loses_no_worker(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A Ctrl-C reaches the whole foreground group, the zygote too; one that lands while its
    # Python is still starting (before its first line ignores SIGINT) printed a
    # KeyboardInterrupt traceback from the start-up imports and the zygote died (found by the
    # fault loop, tests/faults/fault_loop.py).
    import signal
    import time

    from harness.executors.pool import WorkerPool

    pool = WorkerPool(dict(os.environ))
    try:
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            os.kill(pool._process.pid, signal.SIGINT)
            time.sleep(0.002)
        assert pool._messages.get(timeout=120) == {"ready": True}
        assert pool.alive and pool._process.poll() is None
    finally:
        pool.close()
    assert "KeyboardInterrupt" not in capfd.readouterr().err
