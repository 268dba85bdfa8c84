"""One ``--format`` vocabulary: table, json, and markdown/csv where they apply.

``validate``, ``runs`` and ``study`` print JSON for scripts; ``regress`` takes ``table`` for its
text output and keeps ``text`` as another name for it; ``export`` writes the runs' configs and
provenance beside their metrics.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
STUDY_FILES = sorted((ROOT / "studies").glob("*.toml")) + sorted(
    (ROOT / "studies").glob("examples/*.toml")
)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A finished-in-part study (6 done, 2 pending) of command runs, as a study directory."""
    root = tmp_path / "legacy_study"
    shutil.copytree(ROOT / "tests" / "fixtures" / "legacy_study", root)
    return root / "runs" / "legacy"


def parser_of(command: str) -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser()
    importlib.import_module(f"harness.commands.{command}").add_arguments(parser)
    return parser


# -- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("study", STUDY_FILES, ids=[p.name for p in STUDY_FILES])
def test_validate_accepts_every_study_file(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(study), "--runs-dir", str(tmp_path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["valid"] is True
    assert payload["n_runs"] == len(payload["runs"]) == sum(s["n_runs"] for s in payload["studies"])
    assert not (tmp_path / payload["name"]).exists(), "validate must not create anything"


def test_validate_lists_each_phase_of_a_phased_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = ROOT / "studies" / "ablation_phases.toml"
    assert main(["validate", str(study), "--runs-dir", str(tmp_path), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["phased"] is True
    phases = [s["name"] for s in payload["studies"]]
    assert phases[0] == "attention" and len(phases) == 5
    assert payload["studies"][1]["base_from"] == "attention"
    for phase in payload["studies"]:  # every phase's runs, in its own study directory
        runs = [r for r in payload["runs"] if r["phase"] == phase["name"]]
        assert len(runs) == len(phase["variants"]) * len(phase["seeds"]) == phase["n_runs"]
        assert all(r["run_dir"].startswith(phase["study_dir"]) for r in runs)
        assert phase["study_dir"] == str(tmp_path / "ablation_phases" / phase["name"])

    assert main(["validate", str(study), "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 phases, 42 runs" in out
    assert "phase 2 'norm_placement'" in out and "builds on 'attention'" in out


def test_validate_markdown_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = str(ROOT / "studies" / "bos_protection.toml")
    assert main(["validate", study, "--runs-dir", str(tmp_path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 16 and rows[0]["variant"] and len(rows[0]["config_hash"]) == 16
    assert main(["validate", study, "--runs-dir", str(tmp_path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| variant | seed | kind | config_hash | run_dir | overrides |" in out
    assert out.count("\n| ") == 17  # header + 16 runs


# -- runs -------------------------------------------------------------------------------------


def test_runs_as_json_csv_and_markdown(legacy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(legacy), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["study"] == "legacy" and payload["metric"] == "val_loss"
    assert payload["counts"] == {"done": 6, "pending": 2}
    done = [r for r in payload["runs"] if r["status"] == "done"]
    record = json.loads((legacy / "runs" / "plain" / "s0" / "record.json").read_text())
    first = next(r for r in done if (r["variant"], r["seed"]) == ("plain", 0))
    assert first["val_loss"] == record["final_metrics"]["val_loss"]
    assert first["wall_time_s"] == record["wall_time_s"]
    assert first["config_hash"] == record["config_hash"]

    assert main(["runs", str(legacy), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["status"] for r in rows].count("pending") == 2 and len(rows) == 8
    assert float(rows[0]["val_loss"]) == record["final_metrics"]["val_loss"]

    assert main(["runs", str(legacy), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| plain | 0 | done | 2.1442 |" in out and "6 done, 2 pending" in out


# -- export -----------------------------------------------------------------------------------


def test_export_has_config_hash_provenance_and_config_columns(
    legacy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = legacy / "all.csv"
    assert main(["export", str(legacy), "--format", "csv", "--full", "-o", str(output)]) == 0
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 6
    record = json.loads((legacy / "runs" / "shifted" / "s1" / "record.json").read_text())
    config = json.loads((legacy / "runs" / "shifted" / "s1" / "config.json").read_text())
    row = next(r for r in rows if (r["variant"], r["seed"]) == ("shifted", "1"))
    assert row["status"] == "done"
    assert row["config_hash"] == record["config_hash"]
    assert float(row["wall_time_s"]) == record["wall_time_s"]
    assert row["device"] == record["provenance"]["device"]
    assert row["config.command"] == config["config"]["command"]
    assert float(row["config.params.shift"]) == config["config"]["params"]["shift"]
    assert float(row["val_loss"]) == record["final_metrics"]["val_loss"]
    assert "git_commit" in row and "git_dirty" in row


def test_load_table_is_unchanged(legacy: Path) -> None:
    from harness.store import load_table

    assert load_table(legacy).columns == ["variant", "seed", "status", "val_loss"]


# -- regress, tune, bisect: the same names --------------------------------------------------


def test_regress_takes_table_and_keeps_text_as_its_alias() -> None:
    parser = parser_of("regress")
    base = ["s.toml", "--against", "HEAD~1"]
    assert parser.parse_args(base).format == "table"
    assert parser.parse_args([*base, "--format", "table"]).format == "table"
    assert parser.parse_args([*base, "--format", "text"]).format == "table"
    assert parser.parse_args([*base, "--format", "json"]).format == "json"
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--format", "csv"])


@pytest.mark.parametrize(
    ("command", "formats"),
    [
        ("tune", ("table", "json")),
        ("bisect", ("table", "json")),
        ("study", ("table", "json")),
        ("runs", ("table", "json", "markdown", "csv")),
        ("validate", ("table", "json", "markdown", "csv")),
        ("compare", ("table", "markdown", "json", "csv")),
    ],
)
def test_each_command_offers_its_formats(command: str, formats: tuple[str, ...]) -> None:
    parser = parser_of(command)
    action = next(a for a in parser._actions if a.dest == "format")
    assert tuple(action.choices or ()) == formats and action.default == "table"


def test_study_summary_as_json(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import json, os\n"
        "with open(os.environ['HARNESS_RUN_DIR'] + '/metrics.jsonl', 'a') as f:\n"
        "    f.write(json.dumps({'step': 1, 'val_loss': int(os.environ['HARNESS_SEED']) + 0.5}))\n"
    )
    study = tmp_path / "s.toml"
    study.write_text(
        f"[study]\nname = 'fmt'\nseeds = 2\n[base]\ncommand = 'python {tmp_path}/train.py'\n"
        "[variants.a]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(tmp_path / "r"),
         "--no-wandb", "--no-progress", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # stdout is the JSON alone; the table went to stderr
    assert payload["study"] == "fmt" and payload["exit_code"] == 0
    assert payload["executed"] == 2 and payload["planned"] == 2
    assert [(r["variant"], r["seed"], r["status"], r["value"]) for r in payload["runs"]] == [
        ("a", 0, "done", 0.5),
        ("a", 1, "done", 1.5),
    ]
    assert "final val_loss" in result.stderr
