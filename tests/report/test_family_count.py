"""The design line counts what was adjusted: every pair of variants (the table shows only the
ones against the baseline) and the equivalence tests, so "6 adjusted" under a 3-row table is
explained, not a puzzle (issue 31)."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.compare import compare
from harness.report.format import design_line


def four_variants() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"variant": v, "seed": s, "loss": 1.0 + shift + rng.normal(0, 0.01)}
        for v, shift in (("base", 0.0), ("a", 0.1), ("b", 0.0), ("c", -0.1))
        for s in range(5)
    ]
    return pl.DataFrame(rows)


def test_the_design_line_says_which_tests_were_adjusted() -> None:
    result = compare(four_variants(), metric="loss", baseline="base")
    assert len(result.comparisons) == 3  # the table's rows
    line = design_line(result)
    assert "6 tests (every pair of the 4 variants, 3 of them against the baseline) adjusted" in line


def test_the_equivalence_tests_are_counted_apart() -> None:
    result = compare(four_variants(), metric="loss", baseline="base", margin=0.05)
    line = design_line(result)
    assert "9 tests (every pair of the 4 variants, 3 of them against the baseline and 3 " in line
    assert "equivalence tests against the baseline) adjusted together" in line


def test_two_variants_make_one_test() -> None:
    table = four_variants().filter(pl.col("variant").is_in(["base", "a"]))
    line = design_line(compare(table, metric="loss", baseline="base"))
    assert "1 test (nothing to adjust)" in line
    assert "every pair" not in line
