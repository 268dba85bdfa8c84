"""Logs written by wandb, TensorBoard, MLflow and Lightning (tests/importers/fixtures) imported
and compared: the same verdicts as harness's own compare of the same numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import LOGS, compare_json, expected_table, harness

SOURCES = {
    "wandb": "wandb_offline",
    "tensorboard": "tensorboard",
    "mlflow": "mlruns",
    "lightning": "lightning",
}
# TensorBoard keeps float32 values: 7 significant digits
TOLERANCE = {"tensorboard": 1e-5}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_import_gives_the_verdicts_of_the_same_numbers(source, tmp_path, capsys):
    study = tmp_path / "study"
    code, out, err = harness(
        capsys, "import-runs", source, str(LOGS / SOURCES[source]), "-o", str(study)
    )
    assert code == 0, err
    assert "Traceback" not in err
    assert "variants by: model.attn" in out
    assert "seed key: seed" in out

    imported = compare_json(capsys, study, "--baseline", "mha")
    reference = compare_json(capsys, expected_table(tmp_path), "--baseline", "mha")
    assert imported["paired"] and reference["paired"]
    assert [v["variant"] for v in imported["variants"]] == [
        v["variant"] for v in reference["variants"]
    ]
    tolerance = TOLERANCE.get(source, 1e-9)
    for got, want in zip(imported["comparisons"], reference["comparisons"], strict=True):
        assert got["variant"] == want["variant"]
        assert got["verdict"] == want["verdict"]
        assert got["n_pairs"] == want["n_pairs"] == 5
        assert got["diff"] == pytest.approx(want["diff"], abs=tolerance)
        assert got["p_value"] == pytest.approx(want["p_value"], rel=1e-3)
    assert imported["tiers"] == reference["tiers"]
    # the simulation's truth: mqa is worse, gqa's 0.004 is below what 5 seeds resolve
    verdicts = {c["variant"]: c["verdict"] for c in imported["comparisons"]}
    assert verdicts == {"gqa": "indistinguishable", "mqa": "worse"}


def test_a_crashed_wandb_run_is_left_out_and_listed(tmp_path, capsys):
    code, out, _ = harness(
        capsys, "import-runs", "wandb", str(LOGS / "wandb_offline"), "-o", str(tmp_path / "s")
    )
    assert code == 0
    assert "imported 15 of 16 runs" in out
    assert "left out (1):" in out
    assert "mqa-s5" in out and "crashed" in out


def test_curves_give_the_over_steps_comparison_of_the_same_numbers(tmp_path, capsys):
    study = tmp_path / "study"
    harness(capsys, "import-runs", "mlflow", str(LOGS / "mlruns"), "-o", str(study))
    imported = compare_json(capsys, study, "--baseline", "mha", "--over-steps")
    reference = compare_json(capsys, LOGS / "expected.csv", "--baseline", "mha", "--over-steps")
    assert {(r["variant"], r["step"]) for r in imported["steps"]} == {
        (variant, step) for variant in ("gqa", "mqa") for step in range(0, 50, 5)
    }
    for got, want in zip(imported["steps"], reference["steps"], strict=True):
        assert (got["variant"], got["step"], got["n"]) == (want["variant"], want["step"], want["n"])
        assert got["diff"] == pytest.approx(want["diff"], abs=1e-9)
    assert imported["separated_from"] == reference["separated_from"]


def test_report_and_export_read_the_imported_study(tmp_path, capsys):
    study = tmp_path / "study"
    harness(capsys, "import-runs", "tensorboard", str(LOGS / "tensorboard"), "-o", str(study))
    code, _, err = harness(
        capsys, "export", str(study), "--format", "csv", "--full", "-o", str(tmp_path / "runs.csv")
    )
    assert code == 0, err
    import polars as pl

    table = pl.read_csv(tmp_path / "runs.csv")
    assert table.height == 15
    assert set(table["variant"]) == {"mha", "gqa", "mqa"}
    assert "config.model.attn" in table.columns
    code, _, err = harness(capsys, "report", str(study), "-o", str(tmp_path / "report"))
    assert code == 0, err
    assert "mqa" in Path(tmp_path / "report" / "report.md").read_text()
