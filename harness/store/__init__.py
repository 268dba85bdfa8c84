"""The results store, and the tables that ``analysis`` reads from it.

This package is the only code that knows the on-disk layout; everything outside it goes through
the names exported here. Importing it does not import polars; the table functions do.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import StoreWarning, UserError
from harness.store._base import RunConfigFile, RunKey, Store
from harness.store.atomic import atomic_write_text
from harness.store.claims import (
    HEARTBEAT_INTERVAL_S,
    STALE_AFTER_S,
    claim_is_live,
    claim_owner,
)
from harness.store.filesystem import (
    STUDY_FILE,
    FileSystemStore,
    is_phased_root,
    is_study_dir,
    read_phase_decisions,
    read_sequential_looks,
    write_phase_decisions,
    write_sequential_looks,
)
from harness.store.meta import CommitMeta, PhaseDecision, SearchMeta, SequentialLooks, StudyMeta
from harness.store.records import RunRecord

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "STALE_AFTER_S",
    "CommitMeta",
    "FileSystemStore",
    "PhaseDecision",
    "RunConfigFile",
    "RunKey",
    "RunRecord",
    "SearchMeta",
    "SequentialLooks",
    "Store",
    "StudyMeta",
    "atomic_write_text",
    "claim_is_live",
    "claim_owner",
    "find_study_dir",
    "is_phased_root",
    "is_study_dir",
    "load_curves",
    "load_records",
    "load_runs_table",
    "load_study_meta",
    "load_table",
    "read_phase_decisions",
    "read_sequential_looks",
    "runs_root",
    "write_phase_decisions",
    "write_sequential_looks",
]


def runs_root(explicit: str | Path | None = None) -> Path:
    """The studies root: ``--runs-dir``, else ``$HARNESS_RUNS_DIR``, else ``./runs``."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get("HARNESS_RUNS_DIR", "runs"))


def find_study_dir(path: str | Path | None, *, runs_dir: str | Path | None = None) -> Path:
    """Resolve a study directory argument.

    Args:
        path: a study directory, a study name under the runs root, or None for the most
            recently modified study under the runs root.
        runs_dir: the runs root override.

    Raises:
        UserError: nothing that looks like a study directory was found.
    """
    root = runs_root(runs_dir)
    if path is None:
        candidates = [d for d in root.iterdir() if is_study_dir(d)] if root.is_dir() else []
        if not candidates:
            raise UserError(
                f"no study found under {root}/ (run 'harness study FILE' first, "
                "or pass a study directory)"
            )
        return max(candidates, key=_last_modified)
    path = Path(path)
    if is_study_dir(path):
        return path
    if is_study_dir(root / path):
        return root / path
    raise UserError(f"{path} is not a study directory (no study.json in it)")


def load_study_meta(study_dir: str | Path) -> StudyMeta:
    """A study's description (its name, metric, direction, baseline, variants, seeds ...).

    Raises:
        UserError: ``study_dir`` holds no study, or its description is unreadable.
    """
    meta = FileSystemStore(study_dir).read_study_meta()
    if meta is None:
        raise UserError(f"{study_dir} is not a study directory (no study.json in it)")
    return meta


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


def load_curves(study_dir: str | Path, *, include_unfinished: bool = False) -> pl.DataFrame:
    """Every logged metric row of every finished run: ``variant``, ``seed``, ``step``, metrics."""
    import polars as pl

    store = FileSystemStore(study_dir)
    runs = []
    for key in store.run_keys():
        record = store.read_record(key)
        if record is None or (record.status != "done" and not include_unfinished):
            continue
        runs.append((key, store.run_dir(key) / "metrics.jsonl"))
    schema = {"variant": pl.Utf8, "seed": pl.Int64, "step": pl.Int64}
    # polars reads well-formed files at C speed, all of them in one parse when it can (a
    # 400-run study in a fraction of a second); a file it rejects or would read differently
    # goes through the careful reader
    frames = _curve_frames_batched(runs)
    if frames is None:
        frames = []
        for key, path in runs:
            frame = _curve_frame_fast(path)
            if frame is None:
                frame = _curve_frame_careful(path)
            frames.append(
                frame.with_columns(
                    variant=pl.lit(key.variant, dtype=pl.Utf8),
                    seed=pl.lit(key.seed, dtype=pl.Int64),
                )
            )
    if not frames:
        return pl.DataFrame(schema=schema)
    table = pl.concat(frames, how="diagonal_relaxed")
    metrics = sorted(set(table.columns) - set(CURVE_KEYS))
    return table.select(
        [pl.col(name).cast(dtype) for name, dtype in schema.items()]
        + [pl.col(name).cast(pl.Float64) for name in metrics]
    )


def _curve_frame_careful(path: Path) -> pl.DataFrame:
    """A ``metrics.jsonl`` read line by line: rows without a ``step`` are skipped, rows whose
    step is not a 64-bit integer skipped with a warning, values that are no number left out."""
    import polars as pl

    from harness.store.records import read_metrics

    rows = []
    bad_steps: list[Any] = []
    for row in read_metrics(path):
        if "step" not in row:
            continue
        step = _step(row["step"])
        if step is None:
            bad_steps.append(row["step"])
            continue
        values = {
            k: number
            for k, v in row.items()
            if k not in CURVE_KEYS and (number := _number(v)) is not None
        }
        rows.append({**values, "step": step})
    if bad_steps:
        warnings.warn(
            f"{path}: skipped {len(bad_steps)} row(s) whose step is not a 64-bit integer "
            f"(first: {bad_steps[0]!r:.40}); the run's other rows are kept",
            StoreWarning,
            stacklevel=3,  # load_curves's caller
        )
    names = sorted({k for row in rows for k in row} - {"step"})
    return pl.DataFrame(rows, schema={"step": pl.Int64, **{name: pl.Float64 for name in names}})


def _curve_frames_batched(runs: list[tuple[RunKey, Path]]) -> list[pl.DataFrame] | None:
    """Every run's curve in one polars parse of all the files together, with ``variant`` and
    ``seed`` columns; None when any file is not plainly well formed (one JSON object per line,
    each line ending in a newline) or the whole would need :func:`_curve_frame_fast`'s checks
    to fail: the caller then reads file by file."""
    import numpy as np
    import polars as pl

    if not runs:
        return None
    chunks, counts = [], []
    for _, path in runs:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""  # a run that logged nothing
        except OSError:
            return None
        # a file's rows are its lines only when none is blank and the last one ends
        if data and (not data.endswith(b"\n") or b"\n\n" in data or data.startswith(b"\n")):
            return None
        chunks.append(data)
        counts.append(data.count(b"\n"))
    try:
        frame = _numeric_curve(pl.read_ndjson(b"".join(chunks), infer_schema_length=None))
    except Exception:  # one file polars rejects: read them one by one
        return None
    if frame is None or frame.height != sum(counts):
        return None
    index = np.repeat(np.arange(len(runs)), counts)
    variants = pl.Series("variant", [key.variant for key, _ in runs], dtype=pl.Utf8)
    seeds = pl.Series("seed", [key.seed for key, _ in runs], dtype=pl.Int64)
    return [frame.with_columns(variant=variants.gather(index), seed=seeds.gather(index))]


def _numeric_curve(frame: pl.DataFrame) -> pl.DataFrame | None:
    """``step`` (Int64) and the numeric metrics (Float64) of a curve as polars read it; None
    when anything needs the careful reader's judgement (a row without an integer step, a value
    that is no number)."""
    import polars as pl

    if "step" not in frame.columns or frame.schema["step"] != pl.Int64:
        return None
    if frame["step"].null_count():
        return None  # rows without a step (skipped) or with null (warned about)
    columns = [pl.col("step")]
    for name, dtype in frame.schema.items():
        if name in CURVE_KEYS or dtype == pl.Null:  # never a number: nothing to keep
            continue
        if not dtype.is_numeric():
            return None  # text, booleans, lists: the careful reader keeps only the numbers
        columns.append(pl.col(name).cast(pl.Float64))
    return frame.select(columns)


def _curve_frame_fast(path: Path) -> pl.DataFrame | None:
    """A ``metrics.jsonl`` read by polars: ``step`` (Int64) and one Float64 column per numeric
    metric, rows in file order. None when the file is missing or polars rejects it, or when
    anything in it needs the careful reader's judgement (a row without an integer step, a
    value that is no number): that reader then reads the file, with its warnings."""
    import polars as pl

    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        frame = pl.read_ndjson(path, infer_schema_length=None)
    except Exception:  # torn or non-UTF-8 lines, NaN, mixed types: the careful reader
        return None
    return _numeric_curve(frame)


# The identifying columns of the curves table: a metric of the same name is no metric.
CURVE_KEYS = ("variant", "seed", "step")
_INT64 = (-(2**63), 2**63 - 1)


def _step(value: Any) -> int | None:
    """A ``step`` as an int64, or None for anything else ("ten", null, 1e30, 2.5, true)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():  # nan, inf and 2.5 too
            return None
        value = int(value)
    if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        return value
    return None


def _number(value: Any) -> float | None:
    """A metric value as a float; None for what is no number (text, null, an integer too large
    for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


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


def _last_modified(study_dir: Path) -> float:
    newest = (study_dir / STUDY_FILE).stat().st_mtime
    runs = study_dir / "runs"
    if runs.is_dir():
        for variant in runs.iterdir():
            newest = max(newest, variant.stat().st_mtime)
    return newest
