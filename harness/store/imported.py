"""Runs imported from other tools' logs (``harness import-runs``), written as a study's runs.

An imported run is a run directory like any other (its config, its curve, its record), so
everything that reads a study reads it unchanged; its record's provenance says where it came
from (``provenance["imported"]``: the source, the run's id there, and a fingerprint that
changes when the run does), which is how a re-import knows what it already holds.

Each file is replaced atomically, the record last; instead of an fsync per file (three per run,
a third of a 500-run import's time), :func:`flush_imports` makes the whole import durable at
once (``os.sync``) when it ends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.store._base import RunConfigFile, RunKey
from harness.store.atomic import atomic_write_text, atomic_write_with
from harness.store.filesystem import FileSystemStore
from harness.store.records import RunRecord

if TYPE_CHECKING:
    import polars as pl

IMPORTED = "imported"  # the provenance entry of an imported run


def write_imported_run(
    store: FileSystemStore, *, config: RunConfigFile, curve: pl.DataFrame, record: RunRecord
) -> None:
    """Write one imported run: its config, its curve as the metrics file, then its record
    (last, so that a run with a record is complete; each file is replaced atomically).

    Args:
        store: the study's store.
        config: the run's config (its variant and seed name the run).
        curve: one row per step: ``step`` and a Float64 column per metric (nulls left out).
        record: the finished run, its ``provenance[IMPORTED]`` saying where it came from.

    Raises:
        ValueError: the three disagree on the run's variant or seed, or the record does not
            say where it came from.
    """
    key = RunKey(variant=config.variant, seed=config.seed)
    if (record.variant, record.seed) != (key.variant, key.seed):
        raise ValueError(f"the record is of {record.variant}-s{record.seed}, the config of {key}")
    if not isinstance(record.provenance.get(IMPORTED), Mapping):
        raise ValueError(f"the record of {key} does not say where it was imported from")
    paths = store.paths(key)
    paths.path.mkdir(parents=True, exist_ok=True)
    # the same content as FileSystemStore.write_config and write_record write
    # each file replaced atomically, made durable once by flush_imports
    text = json.dumps(dataclasses.asdict(config), indent=2)
    atomic_write_text(paths.config, text, durable=False)
    atomic_write_with(paths.metrics, lambda tmp: _write_curve(curve, tmp), durable=False)
    atomic_write_text(paths.record, record.to_json(), durable=False)


def flush_imports() -> None:
    """Make every imported run written so far durable: one ``os.sync`` for the whole import.
    Until then a crash can leave a run without its files or with empty ones; an empty record
    reads as no record, and the next import writes that run again."""
    os.sync()


def imported_records(store: FileSystemStore) -> dict[RunKey, RunRecord]:
    """The record of each imported run of the study (its ``provenance[IMPORTED]`` says where
    it came from); runs without a record, or not imported, are not listed."""
    found: dict[RunKey, RunRecord] = {}
    for key in store.run_keys():
        record = store.read_record(key)
        if record is not None and isinstance(record.provenance.get(IMPORTED), Mapping):
            found[key] = record
    return found


def _write_curve(curve: pl.DataFrame, path: Path) -> None:
    """The curve as JSON lines, ``step`` first; a metric not logged at a step is left out of
    that row (the store's readers take a missing key as "not logged here", as for harness's
    own runs) rather than written as null."""
    import polars as pl

    columns = [c for c in curve.columns if c != "step"]
    frame = curve.select(pl.col("step").cast(pl.Int64), *columns)
    if (
        columns
        and frame.select(
            pl.any_horizontal(pl.col(columns).is_infinite() | pl.col(columns).is_nan()).any()
        ).item()
    ):
        # polars writes nan and inf as null; json spells them NaN and Infinity, as a run's
        # own metrics file does (a diverged run must stay diverged)
        _write_rows(frame, path)
        return
    text = frame.write_ndjson()
    if '":null' in text:
        # step comes first and is never null, so every null entry follows a comma
        text = _NULL_ENTRY.sub("", text)
    path.write_text(text)


_NULL_ENTRY = re.compile(r',"(?:[^"\\]|\\.)*":null(?=[,}])')


def _write_rows(frame: pl.DataFrame, path: Path) -> None:
    import json

    with path.open("w") as handle:
        for row in frame.iter_rows(named=True):
            handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
