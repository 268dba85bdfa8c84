"""An imported study is read-only: harness study and tune refuse to run into it (exit 2, saying
where it was imported from and how to import again); compare, report and export still read it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from import_helpers import LOGS, harness

STUDY_NAME = "imported"


def study_file(tmp_path: Path, *, search: bool = False) -> Path:
    """A one-run study named like the imported folder, whose command would write a metric."""
    script = tmp_path / "train.py"
    script.write_text(
        "import json, os\n"
        "path = os.path.join(os.environ['HARNESS_RUN_DIR'], 'metrics.jsonl')\n"
        "open(path, 'w').write(json.dumps({'step': 0, 'val_loss': 1.0}) + '\\n')\n"
    )
    search_table = (
        '[search]\ntrials = 2\n\n[search.space]\n"params.lr" = { type = "float", low = 0.1, '
        "high = 1.0 }\n"
        if search
        else ""
    )
    path = tmp_path / "study.toml"
    path.write_text(
        f'[study]\nname = "{STUDY_NAME}"\nmetric = "val_loss"\nseeds = 1\n\n'
        f'[base]\ncommand = "{sys.executable} {script} {{lr}}"\n'
        "params = { lr = 0.5 }\n\n[variants.mha]\n\n" + search_table
    )
    return path


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    runs = tmp_path / "runs"
    code, _, err = harness(
        capsys, "import-runs", "lightning", str(LOGS / "lightning"), "-o", str(runs / STUDY_NAME)
    )
    assert code == 0, err
    return runs


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("extra", [[], ["--fresh"]])
def test_harness_study_refuses_to_run_into_an_imported_study(
    imported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    before = snapshot(imported)
    code, _, err = harness(
        capsys,
        "study",
        str(study_file(tmp_path)),
        "--runs-dir",
        str(imported),
        "--no-progress",
        "--no-wandb",
        *extra,
    )
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1
    assert "imported from lightning" in err and str((LOGS / "lightning").resolve()) in err
    assert f"harness import-runs lightning {(LOGS / 'lightning').resolve()}" in err
    # nothing written, moved or archived
    assert snapshot(imported) == before
    assert sorted(p.name for p in imported.iterdir()) == [STUDY_NAME]


def test_harness_tune_refuses_to_search_in_an_imported_study(
    imported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("HARNESS_RUNS_DIR", str(imported))
    before = snapshot(imported)
    code, _, err = harness(
        capsys, "tune", str(study_file(tmp_path, search=True)), "--no-plots", "--no-wandb"
    )
    assert code == 2, err
    assert "Traceback" not in err
    assert "imported from lightning" in err
    assert snapshot(imported) == before


def test_compare_report_and_export_still_read_an_imported_study(
    imported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = imported / STUDY_NAME
    code, out, err = harness(capsys, "compare", str(study), "--baseline", "mha")
    assert code == 0, err
    assert "mqa" in out
    code, _, err = harness(capsys, "report", str(study), "-o", str(tmp_path / "report"))
    assert code == 0, err
    table = tmp_path / "runs.csv"
    code, _, err = harness(capsys, "export", str(study), "--format", "csv", "-o", str(table))
    assert code == 0, err
    assert table.read_text().count("\n") > 15


def test_importing_again_into_an_imported_study_still_works(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = harness(
        capsys,
        "import-runs",
        "lightning",
        str(LOGS / "lightning"),
        "-o",
        str(imported / STUDY_NAME),
    )
    assert code == 0, err
    assert "15 unchanged" in out


def test_the_store_itself_refuses_writes_to_an_imported_study(imported: Path) -> None:
    from harness.errors import UserError
    from harness.store import FileSystemStore, RunKey, StudyMeta, claim_owner

    store = FileSystemStore(imported / STUDY_NAME)
    before = snapshot(imported)
    with pytest.raises(UserError, match="imported from lightning"):
        store.write_study_meta(StudyMeta(name=STUDY_NAME))
    with pytest.raises(UserError, match="imported from lightning"):
        store.try_claim(RunKey(variant="mha", seed=9), claim_owner("runner"))
    with pytest.raises(UserError, match="imported from lightning"):
        store.archive()
    assert snapshot(imported) == before


def test_a_damaged_study_description_is_still_rewritten_by_a_study(tmp_path: Path) -> None:
    from harness.store import FileSystemStore

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_text("{ damaged")
    FileSystemStore(tmp_path / "s").refuse_if_imported("run into it")  # no error: not imported
