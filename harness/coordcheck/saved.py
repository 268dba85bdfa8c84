"""A coordinate check's result as ``harness report`` reads it: ``coordcheck.json`` in the
check's folder (:mod:`harness.store.command_results`), holding the JSON ``--format json``
prints (verdict, exit code, worst exponents with intervals), every judged exponent, and mean
|x| per (activation, layer, step, width) averaged over seeds: the numbers of the classic
coord-check plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from analysis.coordcheck import CoordCheckResult
from harness.coordcheck.output import json_plain
from harness.store.command_results import write_command_result


def coordcheck_payload(
    records: pl.DataFrame, result: CoordCheckResult, summary: dict[str, Any]
) -> dict[str, Any]:
    """What ``coordcheck.json`` holds.

    Args:
        records: every measured row (``width, seed, step, activation, layer, value``; the
            "loss" rows are left out of the plot data).
        result: the verdict and its exponents.
        summary: :func:`harness.coordcheck.output.result_json` with ``exit_code`` added.

    Returns:
        ``summary`` plus ``exponents`` (one row per activation and layer: slope, interval,
        status, steepest step) and ``means`` (rows of ``activation, layer, step, width,
        value``, the mean over seeds of mean |x|).
    """
    means = (
        records.filter(pl.col("activation") != "loss")
        .group_by(["activation", "layer", "step", "width"], maintain_order=True)
        .agg(pl.col("value").mean(), pl.col("seed").n_unique().alias("seeds"))
        .sort(["step", "width"], maintain_order=True)
    )
    keep = ("activation", "layer", "slope", "ci_low", "ci_high", "status", "worst_step")
    exponents = result.exponents.select([c for c in keep if c in result.exponents.columns])
    return summary | {
        "exponents": [_finite(row) for row in exponents.to_dicts()],
        "means": [_finite(row) for row in means.to_dicts()],
    }


def save_coordcheck(
    out_dir: Path, records: pl.DataFrame, result: CoordCheckResult, summary: dict[str, Any]
) -> Path:
    """Write ``coordcheck.json`` into ``out_dir`` atomically; returns its path.

    Raises:
        UserError: it cannot be written.
    """
    return write_command_result(out_dir, "coordcheck", coordcheck_payload(records, result, summary))


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a row's non-finite floats become null (:func:`json_plain`)."""
    return {key: json_plain(value) for key, value in row.items()}
