"""Plain CSV tables: long, wide with steps, and one row per run (W&B's runs-table export)."""

from __future__ import annotations

import polars as pl
import pytest
from import_helpers import LOGS, compare_json, expected_table, harness

# The fixture's numbers: (variant, seed, step, val_loss)
NUMBERS = pl.read_csv(LOGS / "expected.csv")


def check_same_verdicts(capsys, study, tmp_path):
    imported = compare_json(capsys, study, "--baseline", "mha")
    reference = compare_json(capsys, expected_table(tmp_path), "--baseline", "mha")
    for got, want in zip(imported["comparisons"], reference["comparisons"], strict=True):
        assert (got["variant"], got["verdict"]) == (want["variant"], want["verdict"])
        assert got["diff"] == pytest.approx(want["diff"], abs=1e-12)


def test_a_long_table(tmp_path, capsys):
    long = NUMBERS.select(
        run=pl.format("{}-{}", "variant", "seed"),
        attn="variant",
        seed="seed",
        step="step",
        metric=pl.lit("val_loss"),
        value="val_loss",
    )
    long.write_csv(tmp_path / "long.csv")
    study = tmp_path / "study"
    code, out, err = harness(
        capsys, "import-runs", "csv", str(tmp_path / "long.csv"), "-o", str(study)
    )
    assert code == 0, err
    assert "variants by: attn" in out and "seed key: seed" in out
    check_same_verdicts(capsys, study, tmp_path)


def test_a_wide_table_with_steps_and_a_float_config_column(tmp_path, capsys):
    wide = NUMBERS.select(
        run_id=pl.format("{}-{}", "variant", "seed"),
        attn="variant",
        lr=pl.lit(3e-4),
        seed="seed",
        global_step="step",
        val_loss="val_loss",
    )
    wide.write_csv(tmp_path / "wide.tsv", separator="\t")
    study = tmp_path / "study"
    code, out, err = harness(
        capsys, "import-runs", "csv", str(tmp_path / "wide.tsv"), "-o", str(study)
    )
    assert code == 0, err
    assert "variants by: attn" in out
    check_same_verdicts(capsys, study, tmp_path)
    from harness.store import load_study_meta

    assert load_study_meta(study).base == {"lr": 3e-4}


def test_a_runs_table_export_one_row_per_run(tmp_path, capsys):
    """Shaped as W&B's runs-table export (Name, State, config and summary columns); hand-made
    after W&B's documented layout, since only W&B's web page writes it."""
    final = NUMBERS.filter(pl.col("step") == 45)
    export = final.select(
        Name=pl.format("{}-s{}", "variant", "seed"),
        State=pl.lit("finished"),
        attn="variant",
        lr=pl.lit(3e-4),
        seed="seed",
        val_loss="val_loss",
    )
    export.write_csv(tmp_path / "wandb_export.csv")
    study = tmp_path / "study"
    code, out, err = harness(
        capsys,
        "import-runs",
        "csv",
        str(tmp_path / "wandb_export.csv"),
        "-o",
        str(study),
        "--config-columns",
        "lr",
    )
    assert code == 0, err
    assert "seed key: seed" in out
    check_same_verdicts(capsys, study, tmp_path)


def test_a_table_without_a_run_column_names_the_flag(tmp_path, capsys):
    pl.DataFrame({"who": ["a"], "val_loss": [1.0]}).write_csv(tmp_path / "t.csv")
    code, _, err = harness(capsys, "import-runs", "csv", str(tmp_path / "t.csv"), "-o", "x")
    assert code == 2 and "no run column" in err and "--run-column" in err
    code, _, err = harness(
        capsys, "import-runs", "csv", str(tmp_path / "t.csv"), "-o", "x", "--run-column", "whom"
    )
    assert code == 2 and "no run column 'whom' (columns: who, val_loss)" in err
