"""The results store, and the tables that ``analysis`` reads from it.

This package is the only code that knows the on-disk layout; everything outside it goes through
the names exported here. Importing it does not import polars; the table functions do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UserError
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
    write_phase_decisions,
)
from harness.store.meta import CommitMeta, PhaseDecision, SearchMeta, StudyMeta
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
    "load_study_meta",
    "load_table",
    "read_phase_decisions",
    "runs_root",
    "write_phase_decisions",
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
                "variant": record.variant,
                "seed": record.seed,
                "status": record.status,
                **record.final_metrics,
            }
        )
    metrics = sorted({k for row in rows for k in row} - {"variant", "seed", "status"})
    schema = {"variant": pl.Utf8, "seed": pl.Int64, "status": pl.Utf8}
    schema.update({name: pl.Float64 for name in metrics})
    return pl.DataFrame(rows, schema=schema)


def load_curves(study_dir: str | Path, *, include_unfinished: bool = False) -> pl.DataFrame:
    """Every logged metric row of every finished run: ``variant``, ``seed``, ``step``, metrics."""
    import polars as pl

    from harness.store.records import read_metrics

    store = FileSystemStore(study_dir)
    rows = []
    for key in store.run_keys():
        record = store.read_record(key)
        if record is None or (record.status != "done" and not include_unfinished):
            continue
        for row in read_metrics(store.run_dir(key) / "metrics.jsonl"):
            if "step" not in row:
                continue
            values = {
                k: float(v)
                for k, v in row.items()
                if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
            }
            rows.append(
                {"variant": key.variant, "seed": key.seed, "step": int(row["step"]), **values}
            )
    metrics = sorted({k for row in rows for k in row} - {"variant", "seed", "step"})
    schema = {"variant": pl.Utf8, "seed": pl.Int64, "step": pl.Int64}
    schema.update({name: pl.Float64 for name in metrics})
    return pl.DataFrame(rows, schema=schema)


def _last_modified(study_dir: Path) -> float:
    newest = (study_dir / STUDY_FILE).stat().st_mtime
    runs = study_dir / "runs"
    if runs.is_dir():
        for variant in runs.iterdir():
            newest = max(newest, variant.stat().st_mtime)
    return newest
