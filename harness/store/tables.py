"""A study's runs as tables: final metrics (what ``analysis`` reads), every run's details
(``harness export``), and how every planned run stands (lost runs). Importing this does not
import polars; each function does."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import StoreWarning
from harness.store.filesystem import FileSystemStore
from harness.store.records import RunRecord

if TYPE_CHECKING:
    import polars as pl


def load_records(study_dir: str | Path) -> list[RunRecord]:
    """Every finished run's :class:`~harness.store.records.RunRecord`, in (variant, seed) order."""
    store = FileSystemStore(study_dir)
    records = (store.read_record(key) for key in store.run_keys())
    return [record for record in records if record is not None]


def load_table(study_dir: str | Path, *, include_unfinished: bool = False) -> pl.DataFrame:
    """One row per finished run: ``variant``, ``seed``, ``status``, then final metrics.

    Args:
        study_dir: the study directory.
        include_unfinished: also list failed and diverged runs (by default only ``done``).
    """
    import polars as pl

    rows = []
    for record in load_records(study_dir):
        if record.status != "done" and not include_unfinished:
            continue
        rows.append(
            {
                **_metric_columns(record.final_metrics, f"{record.variant}-s{record.seed}"),
                "variant": record.variant,
                "seed": record.seed,
                "status": record.status,
            }
        )
    metrics = sorted({k for row in rows for k in row} - {"variant", "seed", "status"})
    schema = {"variant": pl.Utf8, "seed": pl.Int64, "status": pl.Utf8}
    schema.update({name: pl.Float64 for name in metrics})
    return pl.DataFrame(rows, schema=schema)


# Provenance fields exported as columns of :func:`load_runs_table` (what a wandb user reads
# from ``Api().runs()``): where and from which code each run came.
PROVENANCE_COLUMNS = ("git_commit", "git_dirty", "git_diff", "device", "host")


def load_runs_table(study_dir: str | Path, *, include_unfinished: bool = False) -> pl.DataFrame:
    """One row per finished run with everything known about it, for ``harness export``.

    Columns: ``variant``, ``seed``, ``status``, ``config_hash``, ``wall_time_s``,
    ``started_at``, ``ended_at``, the provenance (``git_commit``, ``git_dirty``, ``git_diff``
    (the saved diff of a dirty tree, relative to the run directory), ``device``, ``host``), then
    the resolved config flattened into ``config.<dotted key>`` columns (``config.model.n_layer``;
    a list value as its JSON text), then one Float64 column per final metric.
    :func:`load_table` stays the narrow table ``analysis`` reads.

    Args:
        study_dir: the study directory.
        include_unfinished: also list failed and diverged runs (by default only ``done``).
    """
    import polars as pl

    store = FileSystemStore(study_dir)
    rows, config_rows, metric_rows = [], [], []
    schema_names = (
        "variant",
        "seed",
        "status",
        "config_hash",
        "wall_time_s",
        "started_at",
        "ended_at",
        *PROVENANCE_COLUMNS,
    )
    for key in store.run_keys():
        record = store.read_record(key)
        if record is None or (record.status != "done" and not include_unfinished):
            continue
        planned = store.read_config(key)
        rows.append(
            {
                "variant": record.variant,
                "seed": record.seed,
                "status": record.status,
                "config_hash": record.config_hash,
                "wall_time_s": record.wall_time_s,
                "started_at": record.started_at,
                "ended_at": record.ended_at,
                **{name: record.provenance.get(name) for name in PROVENANCE_COLUMNS},
            }
        )
        config_rows.append(_flat_config(planned.config if planned else {}, "config"))
        metric_rows.append(_metric_columns(record.final_metrics, str(key), reserved=schema_names))
    schema: dict[str, Any] = {
        "variant": pl.Utf8,
        "seed": pl.Int64,
        "status": pl.Utf8,
        "config_hash": pl.Utf8,
        "wall_time_s": pl.Float64,
        "started_at": pl.Utf8,
        "ended_at": pl.Utf8,
        "git_commit": pl.Utf8,
        "git_dirty": pl.Boolean,
        "git_diff": pl.Utf8,
        "device": pl.Utf8,
        "host": pl.Utf8,
    }
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in schema}
    for name in sorted({k for row in config_rows for k in row}):
        values = [row.get(name) for row in config_rows]
        columns[name], schema[name] = _typed_column(values)
    for name in sorted({k for row in metric_rows for k in row}):
        columns[name] = [row.get(name) for row in metric_rows]
        schema[name] = pl.Float64
    return pl.DataFrame(columns, schema=schema)


def _flat_config(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``{"model": {"n_layer": 2}}`` -> ``{"config.model.n_layer": 2}``. Config keys are field
    names (identifiers), so joining them with dots is unambiguous."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_config(value, name))
        else:
            flat[name] = value
    return flat


def _typed_column(values: list[Any]) -> tuple[list[Any], Any]:
    """A config column's values and polars type: Boolean, Int64 or Float64 when every value
    present is one, else text (lists and mixed values as JSON)."""
    import json

    import polars as pl

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return values, pl.Boolean
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return values, pl.Int64
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return [None if v is None else float(v) for v in values], pl.Float64
    texts = [v if isinstance(v, str) or v is None else json.dumps(v) for v in values]
    return texts, pl.Utf8


def load_run_statuses(study_dir: str | Path) -> pl.DataFrame:
    """Every planned run and how it stands: ``variant``, ``seed``, ``status``.

    Planned runs are the study's variants x seeds (``study.json``) and every run directory on
    disk (seeds added later, e.g. by ``--until-decided``). ``status`` is the record's
    (``done``, ``failed``, ``diverged``) or ``pending`` for a run without a record (not
    started, running, or killed). :func:`load_table` keeps only the ``done`` ones.
    """
    import polars as pl

    store = FileSystemStore(study_dir)
    meta = store.read_study_meta()
    status: dict[tuple[str, int], str] = {}
    if meta is not None:
        for variant in meta.variants:
            for seed in meta.seeds:
                status[(variant, int(seed))] = "pending"
    for key in store.run_keys():
        record = store.read_record(key)
        status[(key.variant, key.seed)] = record.status if record is not None else "pending"
    rows = sorted(status.items())
    return pl.DataFrame(
        {
            "variant": [variant for (variant, _), _ in rows],
            "seed": [seed for (_, seed), _ in rows],
            "status": [value for _, value in rows],
        },
        schema={"variant": pl.Utf8, "seed": pl.Int64, "status": pl.Utf8},
    )


def _metric_columns(
    metrics: Mapping[str, float],
    run: str,
    reserved: tuple[str, ...] = ("variant", "seed", "status"),
) -> dict[str, float]:
    """A run's final metrics as table columns; a metric named like an identifying column
    (``seed``, ``variant`` ...) would overwrite it, so it is left out with a warning."""
    clashing = sorted(set(metrics) & set(reserved))
    if clashing:
        warnings.warn(
            f"run {run}: metric(s) {', '.join(clashing)} left out of the table: the names are "
            "taken by the table's own columns",
            StoreWarning,
            stacklevel=3,
        )
    return {name: value for name, value in metrics.items() if name not in reserved}
