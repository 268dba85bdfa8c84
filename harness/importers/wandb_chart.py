"""W&B's chart export: the CSV a line-plot panel's "Download CSV" writes.

Its first column is the chart's x axis (``Step``); then, for each line of the chart (a run,
labelled as the legend shows it) and each metric plotted, three columns: ``<line> - <metric>``,
``<line> - <metric>__MIN`` and ``<line> - <metric>__MAX``; wandb's own ``_step`` comes along
the same way. For a single run MIN and MAX are its value; for a grouped line (the mean of a
run group) they are the group's spread. No W&B documentation of the format could be found:
this follows what W&B users show of it (wandb/wandb issues 5349 and 6474; the fixture's README).

A run's config comes from its legend label's ``key=value`` parts (set the panel's legend to
``attn=${config:model.attn},seed=${config:seed}`` before exporting); a grouped line is no run
and is named, not imported (its seeds were averaged before the export).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.importers._base import config_from_path

if TYPE_CHECKING:
    import polars as pl

LINE_SEPARATOR = " - "
SPREAD_SUFFIXES = ("__MIN", "__MAX")


def is_chart_export(columns: list[str]) -> bool:
    """Whether a table's columns are a W&B chart export's: each after the first is
    ``<line> - <metric>``, with its ``__MIN`` and ``__MAX`` beside it."""
    rest = columns[1:]
    values = [c for c in rest if not c.endswith(SPREAD_SUFFIXES)]
    return (
        bool(values)
        and all(LINE_SEPARATOR in c for c in rest)
        and all(f"{c}{suffix}" in rest for c in values for suffix in SPREAD_SUFFIXES)
    )


def chart_to_long(table: pl.DataFrame, step: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """A chart export as a long table: ``run``, ``step``, ``metric``, ``value`` and each run's
    config from its label, wandb's own metrics (``_step`` ...) left out.

    Args:
        table: the export as read.
        step: its x-axis column.

    Returns:
        The long table, and the lines that are no run (grouped lines), with why.
    """
    import polars as pl

    frames: list[pl.DataFrame] = []
    grouped: dict[str, str] = {}
    for column in table.columns:
        if column == step or column.endswith(SPREAD_SUFFIXES):
            continue
        line, _, metric = column.rpartition(LINE_SEPARATOR)
        if metric.startswith("_"):
            continue
        low, high = table[f"{column}__MIN"], table[f"{column}__MAX"]
        if ((low.cast(pl.Float64) != high.cast(pl.Float64)).fill_null(False)).any():
            grouped[line] = (
                f"a grouped line (the mean of a run group; {metric}__MIN and __MAX differ): "
                "its runs were averaged before the export; export the panel ungrouped"
            )
            continue
        frames.append(
            table.select(
                pl.lit(line).alias("run"),
                pl.col(step).alias("step"),
                pl.lit(metric).alias("metric"),
                pl.col(column).cast(pl.Float64).alias("value"),
            ).filter(pl.col("value").is_not_null())
        )
    if not frames:
        return pl.DataFrame(schema={"run": pl.String, "step": pl.Int64}), grouped
    long = pl.concat(frames)
    labels = long["run"].unique(maintain_order=True).to_list()
    configs = [config_from_path(label) for label in labels]
    keys = sorted({key for config in configs for key in config})
    if keys:
        config_table = pl.DataFrame(
            {"run": labels, **{k: [str(c.get(k, "")) for c in configs] for k in keys}}
        )
        long = long.join(config_table, on="run", how="left")
    return long, grouped
