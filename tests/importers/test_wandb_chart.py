"""W&B's chart export (a line-plot panel's "Download CSV") read by the csv importer: the same
verdicts as the numbers themselves; a grouped line (an average of runs) is named, not imported.

The fixture is not W&B's own output (it cannot be downloaded here): it is written in the format
W&B users show of it, by fixtures/wandb_chart/write_chart_export.py (see its README)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from import_helpers import compare_json, expected_table, harness

CHART = Path(__file__).parent / "fixtures" / "wandb_chart"


def test_a_chart_export_gives_the_verdicts_of_the_same_numbers(tmp_path, capsys):
    study = tmp_path / "study"
    code, out, err = harness(
        capsys, "import-runs", "csv", str(CHART / "chart_export.csv"), "-o", str(study)
    )
    assert code == 0, err
    assert "imported 15 of 15 runs" in out
    assert "variants by: attn" in out and "seed key: seed" in out
    assert "metric: val_loss" in out  # wandb's own _step is no metric
    imported = compare_json(capsys, study, "--baseline", "mha")
    reference = compare_json(capsys, expected_table(tmp_path), "--baseline", "mha")
    for got, want in zip(imported["comparisons"], reference["comparisons"], strict=True):
        assert (got["variant"], got["verdict"]) == (want["variant"], want["verdict"])
        assert got["diff"] == pytest.approx(want["diff"], abs=1e-9)
        assert got["n_pairs"] == want["n_pairs"] == 5


def test_a_grouped_line_is_named_and_the_runs_beside_it_imported(tmp_path, capsys):
    runs = pl.read_csv(CHART / "chart_export.csv")
    grouped = pl.read_csv(CHART / "chart_export_grouped.csv").select(
        pl.col("^attn=mqa - val_loss.*$")
    )
    mixed = tmp_path / "mixed.csv"
    pl.concat([runs, grouped], how="horizontal").write_csv(mixed)
    code, out, err = harness(capsys, "import-runs", "csv", str(mixed), "-o", str(tmp_path / "s"))
    assert code == 0, err
    assert "imported 15 of 16 runs" in out
    assert "warning: attn=mqa: could not be read: a grouped line" in err


def test_only_grouped_lines_is_refused_in_one_line(tmp_path, capsys):
    code, _, err = harness(
        capsys,
        "import-runs",
        "csv",
        str(CHART / "chart_export_grouped.csv"),
        "-o",
        str(tmp_path / "s"),
    )
    assert code == 2
    assert err.count("\n") == 1 and "a grouped line" in err and "Traceback" not in err


def test_a_chart_over_another_x_axis_is_refused(tmp_path, capsys):
    table = pl.read_csv(CHART / "chart_export.csv").rename({"Step": "Relative Time (Process)"})
    path = tmp_path / "wall.csv"
    table.write_csv(path)
    code, _, err = harness(capsys, "import-runs", "csv", str(path), "-o", str(tmp_path / "s"))
    assert code == 2
    assert "x axis is 'Relative Time (Process)', not steps" in err
