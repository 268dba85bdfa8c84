"""A study's curves: every logged metric row of every finished run, as one table.

polars reads well-formed ``metrics.jsonl`` files at C speed; a file it rejects or would read
differently goes through the careful reader (:func:`harness.store.metrics_file.parse_rows`),
which skips what it cannot use, with a warning naming the file.

A run's curve is the part of its file its record counts (``metrics_bytes``): rows appended
after the run was recorded change no table, and are named in a warning.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import StoreWarning
from harness.store._base import RunKey
from harness.store.filesystem import FileSystemStore

if TYPE_CHECKING:
    import polars as pl


def load_curves(study_dir: str | Path, *, include_unfinished: bool = False) -> pl.DataFrame:
    """Every logged metric row of every finished run: ``variant``, ``seed``, ``step``, metrics."""
    import polars as pl

    store = FileSystemStore(study_dir)
    runs = []
    for key in store.run_keys():
        record = store.read_record(key)
        if record is None or (record.status != "done" and not include_unfinished):
            continue
        runs.append((key, _recorded_curve(store.paths(key).metrics, record.metrics_bytes)))
    schema = {"variant": pl.Utf8, "seed": pl.Int64, "step": pl.Int64}
    # polars reads well-formed files at C speed, all of them in one parse when it can (a
    # 400-run study in a fraction of a second); a file it rejects or would read differently
    # goes through the careful reader
    frames = _curve_frames_batched(runs)
    if frames is None:
        frames = []
        for key, (path, data) in runs:
            frame = _curve_frame_fast(data)
            if frame is None:
                frame = _curve_frame_careful(path, data)
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


def _recorded_curve(path: Path, recorded: int | None) -> tuple[Path, bytes | None]:
    """A run's ``metrics.jsonl`` as its record counts it: its first ``recorded`` bytes (all
    of it in records from before harness noted the length); None when it cannot be read.
    Bytes beyond are left out with a warning: something wrote them after the run was
    recorded, and a finished run's curve never changes."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return path, b""  # a run that logged nothing
    except OSError:
        return path, None
    if recorded is not None and len(data) > recorded:
        warnings.warn(
            f"{path}: {len(data) - recorded} byte(s) were written after the run was recorded "
            "(a process its command left running?); they are left out, the run's curve is "
            "what was there when it was recorded",
            StoreWarning,
            stacklevel=3,  # load_curves's caller
        )
        data = data[:recorded]
    return path, data


def recorded_last_rows(
    store: FileSystemStore, key: RunKey, *, max_bytes: int, max_lines: int
) -> list[dict[str, Any]] | None:
    """The last rows of a run's ``metrics.jsonl`` as its record counts it (as
    :func:`load_curves` does: bytes beyond the record's ``metrics_bytes`` are not read), for
    how far a run got without parsing its whole curve.

    Args:
        store: the study's store.
        key: the run.
        max_bytes: how many bytes to read back from the recorded end.
        max_lines: how many of the complete lines among them to parse (the last ones).

    Returns:
        The rows (lines that cannot be read skipped); None when the file cannot be read.
    """
    from harness.store.metrics_file import parse_rows

    record = store.read_record(key)
    recorded = record.metrics_bytes if record is not None else None
    try:
        with store.paths(key).metrics.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            end = size if recorded is None else min(size, recorded)
            start = max(0, end - max_bytes)
            handle.seek(start)
            tail = handle.read(end - start)
    except OSError:
        return None
    lines = tail.splitlines()
    if start > 0:
        lines = lines[1:]  # the block's first line may be cut
    return parse_rows(lines[-max_lines:])


def _curve_frame_careful(path: Path, data: bytes | None) -> pl.DataFrame:
    """A ``metrics.jsonl`` (``path``, whose recorded bytes are ``data``; None: read it whole)
    read line by line: rows without a ``step`` are skipped, rows whose step is not a 64-bit
    integer skipped with a warning, values that are no number left out."""
    import polars as pl

    from harness.store.metrics_file import parse_rows, read_metrics

    rows = []
    bad_steps: list[Any] = []
    for row in read_metrics(path) if data is None else parse_rows(data.splitlines()):
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


def _curve_frames_batched(
    runs: list[tuple[RunKey, tuple[Path, bytes | None]]],
) -> list[pl.DataFrame] | None:
    """Every run's curve in one polars parse of all the files together, with ``variant`` and
    ``seed`` columns; None when any file is not plainly well formed (one JSON object per line,
    each line ending in a newline) or the whole would need :func:`_curve_frame_fast`'s checks
    to fail: the caller then reads file by file."""
    import numpy as np
    import polars as pl

    if not runs:
        return None
    chunks, counts = [], []
    for _, (_, data) in runs:
        if data is None:
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


def _curve_frame_fast(data: bytes | None) -> pl.DataFrame | None:
    """A ``metrics.jsonl``'s recorded bytes read by polars: ``step`` (Int64) and one Float64
    column per numeric metric, rows in file order. None when there are none or polars rejects
    them, or when anything in them needs the careful reader's judgement (a row without an
    integer step, a value that is no number): that reader then reads them, with its
    warnings."""
    import polars as pl

    if not data:
        return None
    try:
        frame = pl.read_ndjson(data, infer_schema_length=None)
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
