"""Issue 32, item 3: an interval from surviving runs alone says so in the rendered tables."""

from __future__ import annotations

import polars as pl

from analysis import compare
from analysis.sequential import sequential_compare
from harness.report.format import comparison_cells
from harness.report.sequential_view import rows


def _table() -> tuple[pl.DataFrame, pl.DataFrame]:
    data = [
        {"variant": name, "seed": seed, "loss": 3.0 + shift + 0.01 * seed + 0.003 * (seed % 2)}
        for seed in range(6)
        for name, shift in (("base", 0.0), ("v", 0.02))
        if not (name == "base" and seed == 5)
    ]
    lost = pl.DataFrame({"variant": ["base"], "seed": [5], "status": ["diverged"]})
    return pl.DataFrame(data), lost


def test_sequential_table_labels_a_survivors_only_interval():
    table, lost = _table()
    labelled = rows(sequential_compare(table, metric="loss", baseline="base", lost=lost))
    assert "†" in labelled[0]["note"]
    plain = rows(sequential_compare(table, metric="loss", baseline="base"))
    assert plain[0]["note"] == ""


def test_fixed_table_labels_a_survivors_only_interval():
    table, lost = _table()
    labelled = comparison_cells(compare(table, metric="loss", baseline="base", lost=lost))
    assert any(cell.endswith("†") for cell in labelled[0])
    plain = comparison_cells(compare(table, metric="loss", baseline="base"))
    assert not any("†" in cell for cell in plain[0])
