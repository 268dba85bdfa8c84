"""Importing again adds new and finished runs, rewrites only what changed, and never touches
the original logs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import polars as pl
from import_helpers import harness

from harness.store import load_records


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash and modification time."""
    return {
        str(path.relative_to(folder)): f"{hashlib.sha256(path.read_bytes()).hexdigest()}"
        f":{path.stat().st_mtime_ns}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_reimport_adds_new_runs_rewrites_changed_ones_and_never_touches_the_logs(
    logs, tmp_path, capsys
):
    source = logs / "lightning"
    study = tmp_path / "study"
    argv = ("import-runs", "lightning", str(source), "-o", str(study))
    original = digest(source)

    code, out, _ = harness(capsys, *argv)
    assert code == 0 and "(15 new, 0 updated, 0 unchanged)" in out
    written = digest(study / "runs")

    code, out, _ = harness(capsys, *argv)
    assert code == 0 and "(0 new, 0 updated, 15 unchanged)" in out
    assert digest(study / "runs") == written  # nothing rewritten

    # a sixth seed of mha arrives, and one run logged another step
    shutil.copytree(source / "mha-s0", source / "mha-s5")
    hparams = source / "mha-s5" / "version_0" / "hparams.yaml"
    hparams.write_text(hparams.read_text().replace("seed: 0", "seed: 5"))
    metrics = source / "gqa-s1" / "version_0" / "metrics.csv"
    metrics.write_text(metrics.read_text() + "50,,1.25\n")
    original = digest(source)
    code, out, _ = harness(capsys, *argv)
    assert code == 0 and "(1 new, 1 updated, 14 unchanged)" in out
    assert digest(source) == original  # the logs are only read
    records = {(r.variant, r.seed): r for r in load_records(study)}
    assert len(records) == 16
    assert records[("gqa", 1)].final_metrics["val_loss"] == 1.25
    assert records[("mha", 5)].provenance["imported"]["run_id"] == "mha-s5/version_0"


def test_a_run_that_was_running_is_picked_up_once_it_finished(tmp_path, capsys):
    def table(state_of_b1: str) -> Path:
        rows = [
            {"run": f"{v}{s}", "state": "finished", "attn": v, "seed": s, "val_loss": 1.0 + s}
            for v in ("a", "b")
            for s in range(3)
        ]
        rows[4]["state"] = state_of_b1
        path = tmp_path / "export.csv"
        pl.DataFrame(rows).write_csv(path)
        return path

    argv = ("import-runs", "csv", str(table("running")), "-o", str(tmp_path / "s"))
    code, out, _ = harness(capsys, *argv)
    assert code == 0 and "b1 (b1): still running" in out
    assert "b  2 seed(s): 0 2" in out
    table("finished")
    code, out, _ = harness(capsys, *argv)
    assert "(1 new, 0 updated, 5 unchanged)" in out
    assert "b  3 seed(s): 0 1 2" in out


def test_a_reimport_groups_the_runs_as_the_first_import_did(logs, tmp_path, capsys):
    source = str(logs / "lightning")
    study = str(tmp_path / "study")
    harness(
        capsys,
        *("import-runs", "lightning", source, "-o", study),
        *("--variant-by", "model.attn", "--baseline", "mqa"),
    )
    code, out, _ = harness(capsys, "import-runs", "lightning", source, "-o", study)
    assert code == 0
    code, out, _ = harness(
        capsys, "import-runs", "lightning", source, "-o", study, "--variant-by", "model.attn"
    )
    assert code == 0 and "variants by: model.attn (named)" in out
    assert "mqa  5 seed(s): 0 1 2 3 4  [model.attn=mqa]  (baseline)" in out


def test_an_unchanged_run_is_not_read_again_but_options_that_change_runs_read_them(
    logs, tmp_path, capsys, monkeypatch
):
    from harness.importers.csv import LightningCsvSource

    source = str(logs / "lightning")
    study = str(tmp_path / "study")
    harness(capsys, "import-runs", "lightning", source, "-o", study)
    reads: list[str] = []
    read_run = LightningCsvSource.read_run

    def counting(self, ref):
        reads.append(ref.label)
        return read_run(self, ref)

    monkeypatch.setattr(LightningCsvSource, "read_run", counting)
    code, out, _ = harness(capsys, "import-runs", "lightning", source, "-o", study)
    assert code == 0 and "(0 new, 0 updated, 15 unchanged)" in out
    assert reads == []
    code, out, _ = harness(
        capsys, "import-runs", "lightning", source, "-o", study, "--rename", "train/loss=train_loss"
    )
    assert code == 0 and "(0 new, 15 updated, 0 unchanged)" in out
    assert len(reads) == 15
    from harness.store import load_records

    assert all("train_loss" in r.final_metrics for r in load_records(study))


def test_another_grouping_is_refused_on_a_reimport(logs, tmp_path, capsys):
    source = str(logs / "lightning")
    study = str(tmp_path / "study")
    harness(capsys, "import-runs", "lightning", source, "-o", study)
    code, _, err = harness(
        capsys, "import-runs", "lightning", source, "-o", study, "--variant-by", "optim.lr"
    )
    assert code == 2 and "grouped by model.attn" in err and "new folder" in err
