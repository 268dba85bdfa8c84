"""A factorial study's effects: the run table gets one column per factor (from the design
``study.json`` keeps, ``"factorial"``: the factors with their level order, and each cell's
levels) and :func:`analysis.factorial` estimates main effects and interactions.
:mod:`harness.report.factorial` renders them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.errors import UserError

if TYPE_CHECKING:
    from analysis.factorial import FactorialResult
    from harness.results.comparison import CompareOptions, Prepared


def stored_design(prepared: Prepared) -> Mapping[str, Any] | None:
    """The ``"factorial"`` description ``study.json`` keeps, or None for other studies."""
    meta = prepared.inputs.meta
    design = meta.factorial if meta is not None else None
    return design.to_dict() if design is not None and design.cells else None


def compare_factorial(prepared: Prepared, options: CompareOptions) -> FactorialResult | None:
    """:func:`analysis.factorial` on a factorial study; None when the study is not one.

    Runs of variants outside the design (``[variants]`` beside ``[factors]``) are left out,
    and a warning says so.

    Raises:
        UserError: options that do not apply (``--unpaired``, ``--correction bh``), or
            anything the analysis rejects.
    """
    design = stored_design(prepared)
    if design is None:
        return None
    import polars as pl

    from analysis import AnalysisError, factorial

    if options.paired is False:
        raise UserError("a factorial study is analysed with seeds as blocks; drop --unpaired")
    if options.correction != "holm":
        raise UserError("a factorial study's effects form one Holm family; drop --correction")
    factors = {str(item["key"]): list(item["levels"]) for item in design["factors"]}
    cells: Mapping[str, Mapping[str, Any]] = design["cells"]
    table = prepared.table.filter(pl.col("variant").cast(pl.Utf8).is_in(list(cells)))
    others = sorted(set(prepared.table["variant"].cast(pl.Utf8).to_list()) - set(cells))
    columns = [
        pl.col("variant")
        .cast(pl.Utf8)
        .replace_strict({name: level_text(levels[key]) for name, levels in cells.items()})
        .alias(key)
        for key in factors
    ]
    table = table.with_columns(columns)
    statuses = prepared.inputs.statuses
    lost = None
    if statuses is not None:
        # The design's lost runs, with their factor levels: the worst-case rule's input.
        from analysis.lost_runs import LOST_STATUSES

        lost = statuses.filter(
            pl.col("status").is_in(list(LOST_STATUSES))
            & pl.col("variant").cast(pl.Utf8).is_in(list(cells))
        ).with_columns(columns)
    try:
        result = factorial(
            table,
            factors={key: [level_text(v) for v in levels] for key, levels in factors.items()},
            metric=prepared.metric,
            alpha=options.alpha,
            margin=options.margin,
            direction=prepared.direction,
            lost=lost,
        )
    except AnalysisError as error:
        raise UserError(str(error)) from None
    if others:
        note = f"variants outside the factorial are not in the effects: {', '.join(others)}"
        result = dataclasses.replace(result, warnings=(*result.warnings, note))
    return result


def level_text(value: Any) -> str:
    """A factor level as the text that labels it (``analysis.factorial.level_label``)."""
    from analysis.factorial import level_label

    return level_label(value)
