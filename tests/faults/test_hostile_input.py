"""Hostile and unusual input: every case ends in one clear line (exit 2) or works, never a
traceback, never a file of harness's own lost. Each case runs the real CLI on a real study."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fault_studies import PYTHON, ROOT, env, harness_argv, record, write_study
from finished_study import cli
from test_io_errors import in_namespace

from harness.store.layout import harness_file_names

# A command that reports one metric row; what it computes does not matter here.
REPORTS_ONE_ROW = """
import json, os
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 1, "val_loss": 1.0}) + "\\n")
"""


def assert_one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    error_lines = [line for line in result.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, result.err
    for needle in needles:
        assert needle in error_lines[0], result.err


# -- seeds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "seeds"),
    [
        ("file", "[0, 100000000000000000000]"),  # 1e20: Int64 overflows in the analysis
        ("file", "[0, 4294967296]"),  # 2**32: numpy's np.random.seed refuses it
        ("flag", "0,100000000000000000000"),
    ],
)
def test_a_seed_no_backend_accepts_is_refused_at_the_door(
    tmp_path: Path, where: str, seeds: str
) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW)
    args = ["validate", str(study)]
    if where == "file":
        study.write_text(study.read_text().replace("seeds = 1", f"seeds = {seeds}"))
    else:
        args += ["--seeds", seeds]
    assert_one_line_error(cli(*args), "study.seeds", "4294967295")


def test_the_largest_seed_every_backend_accepts_runs_and_compares(tmp_path: Path) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, variants=("a", "b"))
    study.write_text(study.read_text().replace("seeds = 1", "seeds = [0, 4294967295]"))
    runs = tmp_path / "runs"
    ran = cli("study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb")
    assert ran.code == 0, ran.err
    compared = cli("compare", str(runs / "faults"))
    assert compared.code == 0, compared.err
    assert "Traceback" not in compared.err


def test_until_decided_never_adds_a_seed_beyond_the_range(tmp_path: Path) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, variants=("a", "b"))
    study.write_text(study.read_text().replace("seeds = 1", "seeds = [0, 4294967294]"))
    result = cli("validate", str(study), "--max-seeds", "4")
    assert_one_line_error(result, "--max-seeds 4", "4294967295")


# -- a key nested thousands deep ----------------------------------------------------------------

DEEP_KEY = ".".join(["k"] * 3000)


@pytest.mark.parametrize("where", ["file", "set"])
def test_a_key_nested_thousands_deep_is_refused_in_one_line(tmp_path: Path, where: str) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW)
    args = ["validate", str(study)]
    if where == "file":
        study.write_text(study.read_text() + f"{DEEP_KEY} = 1\n")  # inside [variants.a]
        key = "variants.a.k.k"
    else:
        args += ["--set", f"base.{DEEP_KEY}=1"]
        key = "base.k.k.k"
    assert_one_line_error(cli(*args), str(study), key, "nested more than 64")


# -- a metrics source naming harness's own files -------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("file", "{run_dir}/config.json"),
        ("file", "{run_dir}/claim.json"),
        ("file", "{run_dir}/record.json"),
        ("file", "{run_dir}/./metrics.jsonl"),
        ("log", "{run_dir}/output.log"),
        ("log", "{run_dir}/worker.log"),
        ("file", "{run_dir}/../s1/results.json"),  # another run's folder
    ],
)
def test_a_metrics_source_never_names_harnesss_own_files(
    tmp_path: Path, source: str, path: str
) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, base=f'metrics = {{ {source} = "{path}" }}')
    assert_one_line_error(cli("validate", str(study)), f"base.metrics.{source}", path)


def test_a_results_file_of_the_users_own_in_the_run_folder_is_read(tmp_path: Path) -> None:
    script = """
import json, os
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "results.json"), "w") as f:
    json.dump({"val_loss": 0.5}, f)
"""
    study = write_study(tmp_path, script, base='metrics = { file = "{run_dir}/results.json" }')
    runs = tmp_path / "runs"
    ran = cli("study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb")
    assert ran.code == 0, ran.err
    assert record(runs / "faults").final_metrics["val_loss"] == 0.5
    run_dir = runs / "faults" / "runs" / "a" / "s0"
    assert (run_dir / "config.json").is_file()
    # the names the door refuses are every name harness wrote here
    assert {p.name for p in run_dir.iterdir()} - {"results.json"} <= harness_file_names()


# -- an empty runs root --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["env", "flag"])
def test_an_empty_runs_root_is_refused_not_the_current_directory(tmp_path: Path, how: str) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW)
    work = tmp_path / "work"
    work.mkdir()
    argv = [PYTHON, "-m", "harness", "study", str(study), "--no-progress", "--no-wandb"]
    environment = {**env(), "PYTHONPATH": str(ROOT)}
    if how == "env":
        environment["HARNESS_RUNS_DIR"] = ""
    else:
        argv += ["--runs-dir", ""]
    result = subprocess.run(
        argv, cwd=work, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "HARNESS_RUNS_DIR" in result.stderr and "--runs-dir" in result.stderr
    assert list(work.iterdir()) == []  # nothing written into the current directory


# -- a phased study's decisions file missing a key -----------------------------------------------

PHASED = """\
[study]
name = "ph"
metric = "val_loss"
seeds = 2

[base]
command = {command}
params = {{ off = 1.0 }}

[[phases]]
name = "one"
baseline = "a"
[phases.variants.a]
[phases.variants.b]
params.off = 0.5
"""

REPORTS_OFF = """
import json, os, sys
row = {"step": 1, "val_loss": float(sys.argv[1]) + int(os.environ["HARNESS_SEED"]) / 100}
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as f:
    f.write(json.dumps(row) + "\\n")
"""


@pytest.mark.parametrize("missing", ["phase", "chosen", "winner", "separated", "tiers"])
def test_a_phase_decision_missing_a_key_is_named(tmp_path: Path, missing: str) -> None:
    script = tmp_path / "off.py"
    script.write_text(REPORTS_OFF)
    study = tmp_path / "phased.toml"
    study.write_text(PHASED.format(command=json.dumps(f"{PYTHON} {script} {{off}}")))
    runs = tmp_path / "runs"
    ran = cli("study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb")
    assert ran.code == 0, ran.err
    decisions = runs / "ph" / "phases.json"
    entries = json.loads(decisions.read_text())
    del entries[0][missing]
    decisions.write_text(json.dumps(entries))
    result = cli("report", str(runs / "ph"), "-o", str(tmp_path / "report"))
    assert_one_line_error(result, str(decisions), f"'{missing}'", "entry 1")


# -- a read-only resume with the study path spelled otherwise ------------------------------------


def test_a_finished_study_resumes_read_only_whatever_its_path_is_spelled(tmp_path: Path) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW)
    runs = tmp_path / "runs"
    first = subprocess.run(  # the study file named relative to the study's folder
        [*harness_argv(Path(study.name), runs)], cwd=tmp_path, env=env(), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    relative = Path(os.path.relpath(study, ROOT))  # in_namespace runs in ROOT
    spellings = [harness_argv(path, runs)[3:] for path in (study, relative)]
    results = in_namespace(
        f"mount --bind {runs} {runs}\nmount -o remount,bind,ro {runs}", spellings
    )
    for argv in spellings:
        outcome = results[" ".join(argv)]
        assert outcome["code"] == 0, outcome


# -- a full disk during a run ---------------------------------------------------------------------

FILLS_THE_DISK = """
import json, os
run_dir = os.environ["HARNESS_RUN_DIR"]
try:
    with open(os.path.join(run_dir, "big.bin"), "wb") as f:
        f.write(b"x" * 400_000)
except OSError:
    pass
"""


def test_a_disk_that_fills_during_a_run_is_named_in_one_line(tmp_path: Path) -> None:
    study = write_study(tmp_path, FILLS_THE_DISK)
    runs = tmp_path / "runs"
    runs.mkdir()
    argv = harness_argv(study, runs)[3:]
    results = in_namespace(f"mount -t tmpfs -o size=256k tmpfs {runs}", [argv], listing=runs)
    outcome = results[" ".join(argv)]
    assert outcome["code"] == 2, outcome
    err = str(outcome["err"])
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, err
    for needle in (str(runs / "faults"), "No space left on device (ENOSPC)", "a-s0"):
        assert needle in error_lines[0], err


# -- Ctrl-C while the command's modules are imported -----------------------------------------------

# SIGINT, for real, the moment the subcommand's module starts importing.
INTERRUPTS_IMPORT = """
import os, signal, sys
from importlib.abc import MetaPathFinder

class InterruptOnImport(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == sys.argv[1]:
            os.kill(os.getpid(), signal.SIGINT)
        return None

# as at a terminal, even where this test runs with SIGINT ignored (a background job)
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.meta_path.insert(0, InterruptOnImport())
from harness.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("module", ["harness.commands.compare", "polars"])
def test_ctrl_c_during_start_up_imports_prints_no_traceback(tmp_path: Path, module: str) -> None:
    study = write_study(tmp_path, REPORTS_ONE_ROW, variants=("a", "b"))
    runs = tmp_path / "runs"
    ran = cli("study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb")
    assert ran.code == 0, ran.err
    result = subprocess.run(
        [PYTHON, "-c", INTERRUPTS_IMPORT, module, "compare", str(runs / "faults")],
        cwd=ROOT,
        env={**env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness compare: interrupted"), lines
