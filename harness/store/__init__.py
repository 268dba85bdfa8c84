"""The results store, and the tables that ``analysis`` reads from it.

This package is the only code that knows the on-disk layout (:mod:`harness.store.layout`:
:class:`RunDir` names every path of a run); everything outside it goes through the names
exported here. Its modules: ``filesystem`` (the store), ``layout``, ``metrics_file`` (the
metrics file's writer and readers), ``records``, ``claims``, ``atomic``, ``meta``,
``unreadable``, ``locate`` (finding studies), ``tables`` and ``curves`` (what ``analysis``
reads). Importing it does not import polars; the table functions do.
"""

from __future__ import annotations

from harness.store._base import RunConfigFile, RunKey, Store
from harness.store.atomic import atomic_write_text
from harness.store.claims import (
    HEARTBEAT_INTERVAL_S,
    STALE_AFTER_S,
    claim_is_live,
    claim_owner,
)
from harness.store.curves import load_curves
from harness.store.filesystem import (
    FileSystemStore,
    is_phased_root,
    is_study_dir,
    read_phase_decisions,
    read_sequential_looks,
    write_phase_decisions,
    write_sequential_looks,
)
from harness.store.layout import RunDir
from harness.store.locate import find_study_dir, load_study_meta, runs_root
from harness.store.meta import (
    CommitMeta,
    FactorialMeta,
    PhaseDecision,
    SearchMeta,
    SequentialLooks,
    StudyMeta,
)
from harness.store.records import RunRecord
from harness.store.tables import load_records, load_run_statuses, load_runs_table, load_table

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "STALE_AFTER_S",
    "CommitMeta",
    "FactorialMeta",
    "FileSystemStore",
    "PhaseDecision",
    "RunConfigFile",
    "RunDir",
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
    "load_run_statuses",
    "load_runs_table",
    "load_study_meta",
    "load_table",
    "read_phase_decisions",
    "read_sequential_looks",
    "runs_root",
    "write_phase_decisions",
    "write_sequential_looks",
]
