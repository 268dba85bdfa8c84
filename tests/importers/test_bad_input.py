"""Bad input: one clear line naming what is wrong, exit 2, no traceback; a damaged run is
named and the others imported."""

from __future__ import annotations

import re
import shutil

import polars as pl
import pytest
from import_helpers import harness


@pytest.mark.parametrize("source", ["wandb", "tensorboard", "mlflow", "lightning"])
def test_a_folder_that_is_no_log_store_is_refused_in_one_line(source, tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not logs")
    code, _out, err = harness(capsys, "import-runs", source, str(folder), "-o", str(tmp_path / "s"))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(folder) in err
    assert not (tmp_path / "s").exists()


def test_a_missing_folder_and_a_missing_table_are_named(tmp_path, capsys):
    code, _, err = harness(capsys, "import-runs", "wandb", str(tmp_path / "nope"), "-o", "x")
    assert code == 2 and "nope: no such folder" in err
    code, _, err = harness(capsys, "import-runs", "csv", str(tmp_path / "t.csv"), "-o", "x")
    assert code == 2 and "t.csv: no such file" in err


def test_an_unreadable_wandb_run_is_named_and_the_rest_imported(logs, tmp_path, capsys):
    damaged = sorted((logs / "wandb_offline" / "wandb").glob("offline-run-*"))[0]
    for log in damaged.glob("*.wandb"):
        log.write_bytes(b"garbage, not a wandb log")
    code, out, err = harness(
        capsys, "import-runs", "wandb", str(logs / "wandb_offline"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "imported 14 of 16 runs" in out
    assert f"warning: {damaged.name}: could not be read" in err
    assert "Traceback" not in err


def test_a_changed_value_in_a_wandb_log_fails_its_checksum_and_the_run_is_named(
    logs, tmp_path, capsys
):
    """One digit of a logged value changed in the middle of a real wandb log: the protobuf
    still parses (the old reader imported the wrong number); the record's CRC-32 does not."""
    damaged = sorted((logs / "wandb_offline" / "wandb").glob("offline-run-*"))[0]
    log = next(damaged.glob("*.wandb"))
    data = bytearray(log.read_bytes())
    numbers = list(re.finditer(rb"\d\.\d{6,}", data))
    digit = numbers[len(numbers) // 2].end() - 1  # the last digit of a value in the middle
    data[digit] = ord("0") + (data[digit] - ord("0") + 1) % 10
    log.write_bytes(bytes(data))
    code, out, err = harness(
        capsys, "import-runs", "wandb", str(logs / "wandb_offline"), "-o", str(tmp_path / "s")
    )
    assert code == 0 and "imported 14 of 16 runs" in out
    assert f"warning: {damaged.name}: could not be read" in err
    assert "damaged wandb log: the record at byte" in err and "fails its checksum" in err


def test_a_wandb_log_with_a_torn_or_zero_filled_end_is_read_up_to_it(logs, tmp_path, capsys):
    """What a crash while wandb writes leaves (a last record cut short; zeros a file system
    left after it) is dropped: the run reads as it was before, no warning."""
    from harness.importers.wandb_log import read_wandb_folder

    runs = sorted((logs / "wandb_offline" / "wandb").glob("offline-run-*"))
    before = [read_wandb_folder(run).curve for run in runs[:2]]
    cut, zeroed = (next(run.glob("*.wandb")) for run in runs[:2])
    cut.write_bytes(cut.read_bytes() + bytes.fromhex("12345678ff0001") + b"partial")
    zeroed.write_bytes(zeroed.read_bytes() + b"\x00" * 5000)
    after = [read_wandb_folder(run).curve for run in runs[:2]]
    assert all(a.equals(b) for a, b in zip(after, before, strict=True))


def test_an_unreadable_tensorboard_run_is_named_and_the_rest_imported(logs, tmp_path, capsys):
    damaged = logs / "tensorboard" / "gqa-s2"
    for events in damaged.glob("events.out.tfevents.*"):
        events.write_bytes(b"\x00" * 7)  # a torn record: TensorBoard reads nothing from it
    code, out, err = harness(
        capsys, "import-runs", "tensorboard", str(logs / "tensorboard"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "Traceback" not in err
    # event files with no record left: a run without config and metrics, named
    assert "gqa-s2 (gqa-s2): no metric values were read from it" in out
    assert "gqa  4 seed(s): 0 1 3 4" in out


def test_an_unreadable_lightning_run_is_named_and_the_rest_imported(logs, tmp_path, capsys):
    (logs / "lightning" / "mha-s1" / "version_0" / "hparams.yaml").write_text("model: [unclosed")
    code, out, err = harness(
        capsys, "import-runs", "lightning", str(logs / "lightning"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "imported 14 of 15 runs" in out
    assert "warning: mha-s1/version_0: could not be read" in err and "hparams.yaml" in err


def test_a_metric_missing_in_some_runs_is_named(tmp_path, capsys):
    rows = [
        {"run": f"{a}-{s}", "attn": a, "seed": s, "step": step, "val_loss": 1.0 + s / 10}
        for a in ("x", "y")
        for s in range(3)
        for step in (0, 1)
    ]
    table = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("run") == "y-1").then(None).otherwise(pl.col("val_loss")).alias("val_loss")
    )
    table.write_csv(tmp_path / "runs.csv")
    code, out, err = harness(
        capsys, "import-runs", "csv", str(tmp_path / "runs.csv"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "warning: y-1: no 'val_loss' logged" in err
    assert "imported 6 of 6 runs" in out


def test_mixed_metric_names_are_pointed_out_and_renamed(logs, tmp_path, capsys):
    # two runs logged the validation loss as "val/loss": what a renamed log call leaves
    for name in ("mqa-s3", "mqa-s4"):
        path = logs / "lightning" / name / "version_0" / "metrics.csv"
        path.write_text(path.read_text().replace("val_loss", "val/loss", 1))
    source = str(logs / "lightning")
    code, _, err = harness(capsys, "import-runs", "lightning", source, "-o", str(tmp_path / "a"))
    assert code == 0
    assert "mqa-s3/version_0: no 'val_loss' logged" in err
    assert "pass --rename 'val/loss=val_loss'" in err
    code, _out, err = harness(
        capsys,
        "import-runs",
        "lightning",
        source,
        "-o",
        str(tmp_path / "b"),
        "--rename",
        "val/loss=val_loss",
    )
    assert code == 0 and "no 'val_loss'" not in err


def test_a_study_harness_ran_is_not_mixed_with_imported_runs(tmp_path, capsys):
    from harness.store import FileSystemStore, StudyMeta

    FileSystemStore(tmp_path / "own").write_study_meta(StudyMeta(name="own"))
    source = str(tmp_path / "x.csv")
    pl.DataFrame({"run": ["a"], "seed": [0], "val_loss": [1.0]}).write_csv(source)
    code, _, err = harness(capsys, "import-runs", "csv", source, "-o", str(tmp_path / "own"))
    assert code == 2 and "not an imported one" in err


def test_a_second_source_is_not_mixed_into_an_import(logs, tmp_path, capsys):
    study = str(tmp_path / "s")
    harness(capsys, "import-runs", "lightning", str(logs / "lightning"), "-o", study)
    shutil.copytree(logs / "lightning", tmp_path / "other")
    code, _, err = harness(capsys, "import-runs", "lightning", str(tmp_path / "other"), "-o", study)
    assert code == 2 and "import this source into another folder" in err


def test_a_damaged_mlflow_run_is_named_and_the_rest_imported(logs, tmp_path, capsys):
    # one damaged metric file (MLflow's search of the whole file store would fail on it)
    damaged = sorted((logs / "mlruns").glob("*/*/metrics/val_loss"))[0]
    damaged.write_text("garbage line\n")
    meta = (damaged.parent.parent / "meta.yaml").read_text()
    run_name = next(line for line in meta.splitlines() if line.startswith("run_name:"))
    run_name = run_name.split(":", 1)[1].strip()
    code, out, err = harness(
        capsys, "import-runs", "mlflow", str(logs / "mlruns"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "imported 14 of 15 runs" in out
    # named by its name, which the file store's listing reads from its meta.yaml
    assert f"warning: attn-ablation/{run_name}: could not be read: MLflow cannot read it" in err
    assert "Traceback" not in err


def test_an_mlflow_store_given_as_a_uri_is_still_listed_by_mlflow(logs, tmp_path, capsys):
    uri = (logs / "mlruns").resolve().as_uri()
    code, out, err = harness(capsys, "import-runs", "mlflow", uri, "-o", str(tmp_path / "s"))
    assert code == 0, err
    assert "imported 15 of 15 runs" in out


@pytest.mark.parametrize(
    ("source", "package", "hint"),
    [
        ("tensorboard", "tensorboard", "pip install tensorboard"),
        ("mlflow", "mlflow", "pip install mlflow-skinny"),
    ],
)
def test_a_missing_reader_package_names_what_to_install(
    source, package, hint, logs, tmp_path, capsys, monkeypatch
):
    import sys

    # a module set to None in sys.modules cannot be imported: as if it were not installed
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)
    folder = {"tensorboard": "tensorboard", "mlflow": "mlruns"}[source]
    code, _, err = harness(
        capsys, "import-runs", source, str(logs / folder), "-o", str(tmp_path / "s")
    )
    assert code == 2
    assert hint in err and err.count("\n") == 1
