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


def test_compare_factorial_passes_the_designs_lost_runs_to_the_worst_case_rule():
    from pathlib import Path

    from analysis.verdict import Direction
    from harness.results.comparison import CompareOptions, Prepared
    from harness.results.factorial import compare_factorial
    from harness.results.load import Inputs
    from harness.store.meta import FactorialMeta, StudyMeta

    cells = {f"a{a}b{b}": {"A": a, "B": b} for a in (0, 1) for b in (0, 1)}
    rows, statuses = [], []
    for seed in range(8):
        for name, at in cells.items():
            # A = 1 lowers the loss by 0.05; its cells lost seeds 4 to 7
            if at["A"] == 1 and seed >= 4:
                statuses.append({"variant": name, "seed": seed, "status": "diverged"})
                continue
            noise = 0.01 * ((seed * 7 + at["A"] * 3 + at["B"] * 5) % 5 - 2)
            y = 3.0 + 0.01 * seed - 0.05 * at["A"] + noise
            rows.append({"variant": name, "seed": seed, "y": y})
            statuses.append({"variant": name, "seed": seed, "status": "done"})
    design = {
        "factors": [{"key": "A", "levels": [0, 1]}, {"key": "B", "levels": [0, 1]}],
        "cells": cells,
    }
    meta = StudyMeta(name="switches", metric="y", factorial=FactorialMeta.from_dict(design))

    def prepared(with_statuses: bool) -> Prepared:
        inputs = Inputs(
            source=Path("."),
            meta=meta,
            table=pl.DataFrame(rows),
            statuses=pl.DataFrame(statuses) if with_statuses else None,
        )
        return Prepared(
            inputs=inputs,
            table=pl.DataFrame(rows),
            metric="y",
            baseline="a0b0",
            direction=Direction.MINIMIZE,
        )

    options = CompareOptions()
    clean = compare_factorial(prepared(False), options)
    assert clean is not None and clean.effect("A").verdict == "better"
    result = compare_factorial(prepared(True), options)
    assert result is not None and result.lost_runs == 8
    assert result.effect("A").verdict == "indistinguishable"
    assert result.effect("A").withheld == "lost_runs"
