"""One metric from two sources: "auto" yields to the other source, two declared sources stop
the study after the first run that shows them, and what is knowable before a run is refused
(or warned about) by ``harness validate`` and ``harness study``.

Real small scripts run as commands through ``harness study`` (``--no-wandb``), no mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import FileSystemStore, RunKey
from harness.store.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# Prints its loss for "auto" to find, and writes the final one to results.json.
PRINTS_AND_WRITES_LOSS = """\
import json, os, sys
seed = int(sys.argv[1])
print(f"step 1 loss: {LOSS_PRINTED}", flush=True)
print(f"step 2 loss: {LOSS_PRINTED}", flush=True)
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "results.json"), "w") as out:
    json.dump({"loss": 0.5 + seed / 100, "accuracy": 0.9}, out)
"""


def harness(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run(
        [PYTHON, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


def study(
    path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    runs = path.parent / "runs"
    return harness(
        "study", str(path), "--runs-dir", str(runs), "--no-progress", "--no-wandb", *args,
        cwd=path.parent, env=env,
    )  # fmt: skip


def check(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def write_study(tmp_path: Path, metrics: str, *, seeds: int = 2, metric: str = "loss") -> Path:
    path = tmp_path / "conflict.toml"
    path.write_text(
        f'[study]\nname = "conflict"\nmetric = "{metric}"\nseeds = {seeds}\n\n[base]\n'
        f'command = "{PYTHON} script.py {{seed}}"\nmetrics = {metrics}\n\n[variants.a]\n'
    )
    return path


def record(tmp_path: Path, seed: int) -> RunRecord:
    found = FileSystemStore(tmp_path / "runs" / "conflict").read_record(
        RunKey(variant="a", seed=seed)
    )
    assert found is not None
    return found


def records(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs" / "conflict" / "runs").glob("*/s*/record.json"))


def test_auto_yields_a_metric_to_the_results_file_and_the_record_says_so(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "0.9"))
    path = write_study(tmp_path, '{ stdout = "auto", file = "{run_dir}/results.json" }')
    ran = study(path, "--jobs", "1")
    check(ran)
    for seed in (0, 1):
        done = record(tmp_path, seed)
        assert done.status == "done", done.error
        assert done.final_metrics == {"loss": 0.5 + seed / 100, "accuracy": 0.9}
        assert done.provenance["metric_sources"] == {
            "loss": "file '{run_dir}/results.json'",
            "accuracy": "file '{run_dir}/results.json'",
        }
        # no mix: the curve holds the results file's loss only, the printed one is gone
        curve = tmp_path / f"runs/conflict/runs/a/s{seed}/metrics.jsonl"
        rows = [json.loads(line) for line in curve.read_text().splitlines()]
        assert rows == [{"step": 2, "loss": 0.5 + seed / 100, "accuracy": 0.9}]
        assert len(done.warnings) == 1
        assert (
            "'loss' from file '{run_dir}/results.json'; stdout (auto) printed it"
            in (done.warnings[0])
        )
    # said once for the study, naming the runs
    shown = ran.stdout + ran.stderr
    assert shown.count("auto yields to every other source") == 1
    assert "a-s0, a-s1: metrics: 'loss' from file" in " ".join(shown.split())


def test_a_diverged_printed_value_that_auto_yielded_does_not_mark_the_run(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "nan"))
    path = write_study(tmp_path, '{ stdout = "auto", file = "{run_dir}/results.json" }', seeds=1)
    check(study(path))
    done = record(tmp_path, 0)
    assert done.status == "done"
    assert done.final_metrics["loss"] == 0.5


def test_auto_keeps_what_no_other_source_reports(tmp_path: Path) -> None:
    script = PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "0.9").replace(
        '"loss": 0.5 + seed / 100, ', ""
    )
    (tmp_path / "script.py").write_text(script)
    path = write_study(tmp_path, '{ stdout = "auto", file = "{run_dir}/results.json" }', seeds=1)
    check(study(path))
    done = record(tmp_path, 0)
    assert done.final_metrics == {"loss": 0.9, "accuracy": 0.9}
    assert done.provenance["metric_sources"] == {
        "loss": "stdout (auto)",
        "accuracy": "file '{run_dir}/results.json'",
    }
    assert done.warnings == []


def test_two_declared_sources_of_one_metric_stop_the_study_after_one_run(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "0.9"))
    metrics = "{ stdout = ['loss: (?P<loss>[0-9.]+)'], file = \"{run_dir}/results.json\" }"
    path = write_study(tmp_path, metrics, seeds=4)
    ran = study(path, "--jobs", "1")
    check(ran, 2)
    message = " ".join(ran.stderr.split())
    assert "a-s0: metrics: one metric from two sources: 'loss' is reported both by stdout " in (
        message
    )
    assert "and by file '{run_dir}/results.json'" in message
    assert "stopped rather than fail its 4 runs" in message and "--retry-failed" in message
    assert len(records(tmp_path)) == 1  # one run spent, not four
    failed = record(tmp_path, 0)
    assert failed.status == "failed"
    # fixed (the regex renamed), the study resumes
    path.write_text(path.read_text().replace("?P<loss>", "?P<printed_loss>"))
    check(study(path, "--retry-failed"))
    assert len(records(tmp_path)) == 4
    assert record(tmp_path, 0).final_metrics["printed_loss"] == 0.9


def test_validate_and_study_refuse_a_path_declared_twice(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "0.9"))
    path = write_study(
        tmp_path, '{ log = "{run_dir}/results.jsonl", file = "{run_dir}/results.jsonl" }'
    )
    for ran in (harness("validate", str(path), cwd=tmp_path), study(path)):
        check(ran, 2)
        assert "'{run_dir}/results.jsonl' is declared twice" in ran.stderr
        assert "base.metrics.log and base.metrics.file" in ran.stderr
    assert not (tmp_path / "runs" / "conflict").exists()


def test_validate_and_study_warn_about_regexes_read_in_two_log_files(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(PRINTS_AND_WRITES_LOSS.replace("{LOSS_PRINTED}", "0.9"))
    metrics = "{ stdout = ['loss: (?P<loss>[0-9.]+)'], log = ['a.log', 'b.log'] }"
    path = write_study(tmp_path, metrics)
    validated = harness("validate", str(path), cwd=tmp_path)
    check(validated)
    warning = " ".join(validated.stderr.split())
    assert "variants.a.metrics.log: its patterns are read in each of its 2 log files" in warning
    assert "(a.log, b.log), so a metric they name (loss) printed in two of them" in warning


PRINTS_AND_LOGS_TO_WANDB = """\
import sys
import wandb
seed = int(sys.argv[1])
run = wandb.init()
for step in (1, 2):
    print(f"step {step} loss: 0.9 grad_norm: 1.5", flush=True)
    wandb.log({"loss": 0.5 + seed / 100})
run.finish()
"""


def test_auto_yields_a_metric_to_the_scripts_wandb_run(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    (tmp_path / "script.py").write_text(PRINTS_AND_LOGS_TO_WANDB)
    path = write_study(tmp_path, '{ stdout = "auto", wandb = true }', seeds=1)
    home = str(tmp_path / "wandb_home")
    ran = study(
        path,
        env={
            "WANDB_MODE": "offline",
            "WANDB_BASE_URL": "http://127.0.0.1:9",  # nothing listens: going online would fail
            "WANDB_API_KEY": "",
            "WANDB_SILENT": "true",
            "WANDB_CONFIG_DIR": home,
            "WANDB_CACHE_DIR": home,
        },
    )
    check(ran)
    done = record(tmp_path, 0)
    assert done.final_metrics == {"loss": 0.5, "grad_norm": 1.5}
    assert done.provenance["metric_sources"] == {"loss": "wandb", "grad_norm": "stdout (auto)"}
    assert done.warnings == [
        "metrics: 'loss' from wandb; stdout (auto) printed it too, and its values were left "
        "out (auto yields to every other source)"
    ]
