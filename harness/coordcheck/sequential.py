"""Seeds added in groups while the coordinate check is undecided.

Each look judges every seed measured so far; the verdict's error rates are split over the
planned looks (``analysis.coordcheck.coord_check(looks=...)``), so stopping at the first
decided look keeps them whatever the data do. A clear bug is decided at the first look; a
correct model is measured until its exponents are shown within the tolerance. Seeds come in
groups (``seeds_per_look``) rather than one at a time: Bonferroni splits alpha over the looks,
so fewer looks leave each one a wider share, while the seeds a decision needs stay about the
same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from analysis.coordcheck import INCONCLUSIVE, CoordCheckResult, coord_check
from harness.coordcheck.settings import look_schedule

Row = dict[str, Any]


def records_frame(rows: list[Row]) -> pl.DataFrame:
    """The records as a table (``layer`` an integer column even when every layer is null)."""
    return pl.DataFrame(rows, schema_overrides={"layer": pl.Int64})


def check_until_decided(
    measure_seed: Callable[[int], list[Row]],
    *,
    first_seeds: int,
    max_seeds: int,
    tolerance: float,
    first_step: int,
    order: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    seeds_per_look: int = 1,
) -> tuple[pl.DataFrame, CoordCheckResult]:
    """Measure seeds 0, 1, ... (every width each), judging at ``first_seeds`` and after every
    further ``seeds_per_look`` seeds (and at ``max_seeds``), until the verdict is PASS or FAIL
    or ``max_seeds`` are spent.

    Args:
        measure_seed: the records of one seed at every width (rows as
            ``harness.coordcheck.measure.measure_one`` makes them).
        first_seeds: seeds measured before the first look.
        max_seeds: the most seeds.
        tolerance: the largest |width exponent| that passes.
        first_step: the first judged step.
        order: activations in display order.
        progress: called with a line before each seed.
        seeds_per_look: seeds added between looks.

    Returns:
        The records (every seed measured, the "loss" rows included) and the last verdict.
    """
    schedule = look_schedule(first_seeds, max_seeds, seeds_per_look)
    looks = len(schedule)
    rows: list[Row] = []
    for seed in range(max_seeds):
        if progress is not None:
            progress(f"seed {seed + 1} (at most {max_seeds})")
        rows += measure_seed(seed)
        if seed + 1 not in schedule:
            continue
        records = records_frame(rows)
        judged = records.filter(pl.col("activation") != "loss")
        result = coord_check(
            judged, tolerance=tolerance, first_step=first_step, looks=looks, order=order
        )
        if result.verdict != INCONCLUSIVE:
            break
    return records, result
