"""Limits: the output a record keeps, a run's time limit, the number of seeds."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from fault_studies import (
    PYTHON,
    ROOT,
    alive,
    env,
    pids_in,
    record,
    run_study,
    wait_for,
    write_study,
)

from harness.errors import SpecError
from harness.limits import describe_duration, timeout_seconds
from harness.study.seeds import MAX_SEEDS, seed_list


def test_a_huge_output_line_does_not_make_a_huge_record(tmp_path: Path) -> None:
    script = "import sys\nsys.stdout.write('x' * 5_000_000 + '\\n')\nsys.exit(1)\n"
    study = write_study(tmp_path, script)
    run_study(study, tmp_path / "runs")
    record_path = tmp_path / "runs" / "faults" / "runs" / "a" / "s0" / "record.json"
    assert record_path.stat().st_size < 64 * 1024
    found = record(tmp_path / "runs" / "faults")
    assert found is not None and found.status == "failed"
    assert "[... cut]" in (found.output_tail or "")


# A command that starts a background child, notes both pids and never ends by itself.
HANGS = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open({pids!r}, "w") as f:
    f.write(f"{{os.getpid()}}\\n{{child.pid}}\\n")
time.sleep(60)
"""


def test_a_run_past_its_timeout_is_ended_and_recorded_failed(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    study = write_study(tmp_path, HANGS.format(pids=str(pids)), base='timeout = "1s"')
    started = time.monotonic()
    result = run_study(study, tmp_path / "runs")
    assert time.monotonic() - started < 20
    found = record(tmp_path / "runs" / "faults")
    assert found is not None, result.stdout + result.stderr
    assert found.status == "failed" and found.error == "timed out after 1s"
    assert len(pids_in(pids)) == 2
    wait_for(lambda: not any(alive(pid) for pid in pids_in(pids)), what="the command's group")


def test_a_variant_sets_its_own_timeout_and_a_bad_one_is_refused_at_the_door(
    tmp_path: Path,
) -> None:
    study = write_study(tmp_path, "print('val_loss 1.0')", base='timeout = "2 hours"')
    result = subprocess.run(
        [PYTHON, "-m", "harness", "validate", str(study)],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "base.timeout" in result.stderr and "Traceback" not in result.stderr
    text = study.read_text().replace('timeout = "2 hours"', "timeout = 60")
    study.write_text(text + '\ntimeout = "1h30m"\n')  # under [variants.a]
    result = subprocess.run(
        [PYTHON, "-m", "harness", "validate", str(study)],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_timeout_values() -> None:
    assert timeout_seconds(90) == 90.0
    assert timeout_seconds("2h") == 7200.0
    assert timeout_seconds("1h30m") == 5400.0
    assert timeout_seconds("1.5s") == 1.5
    for bad in ("", "2 hours", "h", -1, 0, True, float("inf"), float("nan"), "400d", [1]):
        with pytest.raises(ValueError):
            timeout_seconds(bad)
    assert describe_duration(5400) == "1h30m" and describe_duration(2.5) == "2.5s"


def test_the_timeout_does_not_change_the_config_hash() -> None:
    from harness.study.variant import config_hash

    assert config_hash({"command": "x"}) == config_hash({"command": "x", "timeout": "2h"})


def test_a_seed_count_past_the_cap_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=f"at most {MAX_SEEDS} seeds"):
        seed_list(300_000_000, "study.seeds")
    with pytest.raises(SpecError, match=f"at most {MAX_SEEDS} seeds"):
        seed_list(list(range(MAX_SEEDS + 1)), "study.seeds")
    assert len(seed_list(MAX_SEEDS, "study.seeds")) == MAX_SEEDS
    study = write_study(tmp_path, "print('val_loss 1.0')")
    result = run_study(study, tmp_path / "runs", "--seeds", "300000000")
    assert result.returncode == 2
    assert "study.seeds" in result.stderr and f"at most {MAX_SEEDS}" in result.stderr
    assert not (tmp_path / "runs").exists()
