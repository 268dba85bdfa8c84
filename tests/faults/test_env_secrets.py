"""Secrets in a study's ``env`` table: a ``${VAR}`` reference reaches the command, resolved
from the environment harness runs in, and no file harness writes (study.json, config.json,
records, wandb's offline run, an export, ``validate --format json``) ever holds its value.
Real studies, real processes, real (offline) wandb."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fault_studies import PYTHON, ROOT, env, record
from finished_study import cli

SECRET = "s3cr3t-value-4f9a"

# Appends the value of the variable its second argument names to a file outside the runs dir
# (so the test can see that it arrived), and reports one metric row.
USES_SECRET = """
import json, os, sys
with open(sys.argv[1], "a") as f:
    f.write(os.environ.get(sys.argv[2], "<unset>") + "\\n")
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 1, "val_loss": 1.0}) + "\\n")
"""


def secret_study(
    tmp_path: Path, value: str = "${SECRET}", *, name: str = "SECRET", wandb: bool = False
) -> Path:
    script = tmp_path / "uses_secret.py"
    script.write_text(USES_SECRET)
    study = tmp_path / "secrets.toml"
    wandb_table = '[wandb]\nmode = "offline"\n' if wandb else ""
    study.write_text(
        f"""[study]
name = "secrets"
metric = "val_loss"
seeds = 1
{wandb_table}
[base]
command = "python {script} {tmp_path / "seen.txt"} {name} {{seed}}"
env = {{ {name} = {json.dumps(value)} }}

[variants.a]
"""
    )
    return study


def harness(
    tmp_path: Path, *args: str, secret: str | None = SECRET
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in env().items() if not k.startswith("WANDB_")}
    environment.pop("SECRET", None)
    if secret is not None:
        environment["SECRET"] = secret
    return subprocess.run(
        [PYTHON, "-m", "harness", *args], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip


def files_holding(root: Path, needle: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_an_env_value_never_reaches_any_file_harness_writes(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    study = secret_study(tmp_path, wandb=True)
    runs = tmp_path / "runs"
    result = harness(tmp_path, "study", str(study), "--runs-dir", str(runs), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    # the command got the value, resolved from the environment harness runs in
    assert (tmp_path / "seen.txt").read_text() == f"{SECRET}\n"
    assert list(runs.glob("secrets/runs/a/s0/wandb/offline-run-*")), "wandb ran offline"
    export = tmp_path / "export.csv"
    exported = harness(
        tmp_path, "export", str(runs / "secrets"), "--full", "--all", "--format", "csv",
        "--output", str(export),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    validated = harness(tmp_path, "validate", str(study), "--format", "json")
    assert validated.returncode == 0, validated.stderr
    assert files_holding(runs, SECRET) == []
    assert SECRET not in export.read_text()
    assert SECRET not in validated.stdout + result.stdout + result.stderr
    # what is recorded is the reference, so the run says where its value came from
    config = json.loads((runs / "secrets" / "runs" / "a" / "s0" / "config.json").read_text())
    assert "${SECRET}" in json.dumps(config)


def test_changing_a_referenced_secret_does_not_make_finished_runs_stale(tmp_path: Path) -> None:
    study = secret_study(tmp_path)
    runs = tmp_path / "runs"
    argv = ["study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb"]
    assert harness(tmp_path, *argv).returncode == 0
    again = harness(tmp_path, *argv, secret="a-rotated-token")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / "seen.txt").read_text() == f"{SECRET}\n"  # ran once, not again


def test_an_unset_env_reference_fails_the_run_naming_the_variable(tmp_path: Path) -> None:
    study = secret_study(tmp_path)
    runs = tmp_path / "runs"
    argv = ["study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb"]
    result = harness(tmp_path, *argv, secret=None)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "seen.txt").exists()  # the command never ran without its secret
    failed = record(runs / "secrets")
    assert failed is not None and failed.status == "failed"
    assert "SECRET" in (failed.error or "") and "not set" in (failed.error or "")
    # and validate says so before anything runs
    validated = harness(tmp_path, "validate", str(study), secret=None)
    assert validated.returncode == 0, validated.stderr
    assert "env.SECRET: refers to ${SECRET}, which is not set here" in " ".join(
        (validated.stdout + validated.stderr).split()
    )


@pytest.mark.parametrize(
    "name", ["HF_TOKEN", "WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD"]
)
def test_a_secret_written_into_the_study_file_is_refused_with_the_reference_form(
    tmp_path: Path, name: str
) -> None:
    study = secret_study(tmp_path)
    study.write_text(study.read_text().replace('SECRET = "${SECRET}"', f'{name} = "abc123"'))
    result = cli("validate", str(study))
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    assert f"env.{name}" in result.err and f'{name} = "${{{name}}}"' in result.err
    assert "abc123" not in result.err


def test_a_literal_env_value_that_is_no_secret_is_still_recorded(tmp_path: Path) -> None:
    """A literal value is configuration (``CUBLAS_WORKSPACE_CONFIG``, a factor's switch): it
    stays in the config and its hash, as before."""
    study = secret_study(tmp_path, value="literal-switch", name="ATTENTION_SWITCH")
    runs = tmp_path / "runs"
    argv = ["study", str(study), "--runs-dir", str(runs), "--no-progress", "--no-wandb"]
    assert harness(tmp_path, *argv).returncode == 0
    assert (tmp_path / "seen.txt").read_text() == "literal-switch\n"
    config = (runs / "secrets" / "runs" / "a" / "s0" / "config.json").read_text()
    assert "literal-switch" in config
