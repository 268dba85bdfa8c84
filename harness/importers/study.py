"""Writing imported runs as a read-only study, through the store; incremental on re-import."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.verdict import Direction
from harness.importers._base import ImportFailure, SourceRun
from harness.importers.grouping import Grouping, Member, flatten, unflatten
from harness.store import (
    FactorialMeta,
    FileSystemStore,
    RunConfigFile,
    RunKey,
    RunRecord,
    StudyMeta,
)
from harness.store.imported import (
    IMPORTED,
    flush_imports,
    imported_records,
    write_imported_run,
)
from harness.store.read_only import IMPORTED_STUDY

# What study.json keeps about an import (StudyMeta.other): where the runs came from and how
# they were grouped, so a re-import groups them the same way; it also makes the study
# read-only (harness.store.read_only)
IMPORT_META = IMPORTED_STUDY


@dataclass(frozen=True, kw_only=True)
class ImportOrigin:
    """Where a study's runs were imported from.

    Attributes:
        kind: the source kind (wandb, wandb-api, tensorboard, mlflow, lightning, csv).
        location: the folder, file, URI or project.
    """

    kind: str
    location: str


@dataclass(kw_only=True)
class WriteOutcome:
    """What an import wrote: run names (``variant-s<seed>``) by what happened to them."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def stored_import(study_dir: Path) -> Mapping[str, Any] | None:
    """What ``study.json`` says about an earlier import into ``study_dir``; None when the folder
    holds no study yet.

    Raises:
        ImportFailure: the folder holds a study that was not imported (its runs are harness's
            own and must not be mixed with imported ones).
    """
    meta = FileSystemStore(study_dir).read_study_meta()
    if meta is None:
        return None
    stored = meta.other.get(IMPORT_META)
    if not isinstance(stored, Mapping):
        raise ImportFailure(
            f"{study_dir} holds a study harness ran, not an imported one; import into a new folder"
        )
    return stored


def stored_runs(study_dir: Path) -> dict[str, SourceRun]:
    """The runs an earlier import wrote into ``study_dir``, by their id in the source, as they
    stand in for unchanged runs: config, final values, fingerprint (no curve: an unchanged
    run is not written again)."""
    import polars as pl

    store = FileSystemStore(study_dir)
    runs: dict[str, SourceRun] = {}
    for key, record in imported_records(store).items():
        entry = record.provenance[IMPORTED]
        planned = store.read_config(key)
        if planned is None:
            continue
        run_id = str(entry.get("run_id"))
        runs[run_id] = SourceRun(
            run_id=run_id,
            name=str(entry.get("name") or run_id),
            location=str(entry.get("location") or ""),
            config=planned.config,
            state="finished",
            curve=pl.DataFrame(schema={"step": pl.Int64}),
            final=dict(record.final_metrics),
            started_at=_epoch(record.started_at),
            ended_at=_epoch(record.ended_at),
            fingerprint=str(entry.get("fingerprint") or ""),
        )
    return runs


def write_study(
    study_dir: Path,
    grouping: Grouping,
    *,
    name: str,
    metric: str,
    direction: Direction,
    origin: ImportOrigin,
    report: Mapping[str, Any],
    advance: Callable[[], None] | None = None,
) -> WriteOutcome:
    """Write the grouped runs into ``study_dir`` as a study; runs a previous import wrote are
    rewritten only when their source changed (their fingerprint), and never removed.

    Args:
        study_dir: the study folder (created when missing).
        grouping: the runs in variants and seeds.
        name: the study name.
        metric: the primary metric.
        direction: whether lower or higher is better.
        origin: where the runs came from.
        report: what the import found (left out, confounds ...), kept in ``study.json``.
        advance: called once per run written or skipped (a progress bar's step).

    Returns:
        Which runs are new, updated or unchanged.
    """
    store = FileSystemStore(study_dir)
    before = {key: record.provenance[IMPORTED] for key, record in imported_records(store).items()}
    outcome = WriteOutcome()
    for member in grouping.members:
        key = RunKey(variant=member.variant, seed=member.seed)
        stored = before.get(key)
        run = member.run
        if (
            stored is not None
            and run.fingerprint
            and stored.get("run_id") == run.run_id
            and stored.get("fingerprint") == run.fingerprint
        ):
            outcome.unchanged.append(str(key))
        else:
            _write_run(store, member, study=name, origin=origin)
            (outcome.updated if stored is not None else outcome.new).append(str(key))
        if advance is not None:
            advance()
    if outcome.new or outcome.updated:
        flush_imports()  # the runs durable before study.json says they are there
    _write_meta(
        store, grouping, name=name, metric=metric, direction=direction, origin=origin, report=report
    )
    return outcome


def _write_run(store: FileSystemStore, member: Member, *, study: str, origin: ImportOrigin) -> None:
    run = member.run
    config = dict(run.config)
    config_hash = hashlib.sha256(
        json.dumps(flatten(config), sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    curve = run.curve.sort("step")
    record = RunRecord(
        study=study,
        variant=member.variant,
        seed=member.seed,
        kind="command",
        config_hash=config_hash,
        status="done",
        final_metrics={**_last_values(curve), **run.final},
        provenance={
            IMPORTED: {
                "source": origin.kind,
                "location": run.location,
                "run_id": run.run_id,
                "name": run.name,
                "fingerprint": run.fingerprint,
                "imported_at": _iso(time.time()),
            }
        },
        started_at=_iso(run.started_at),
        ended_at=_iso(run.ended_at),
        wall_time_s=(run.ended_at - run.started_at) if run.started_at and run.ended_at else 0.0,
    )
    planned = RunConfigFile(
        study=study,
        variant=member.variant,
        seed=member.seed,
        kind="command",
        config=json.loads(json.dumps(config, default=str)),
        config_hash=config_hash,
    )
    write_imported_run(store, config=planned, curve=curve, record=record)


def _write_meta(
    store: FileSystemStore,
    grouping: Grouping,
    *,
    name: str,
    metric: str,
    direction: Direction,
    origin: ImportOrigin,
    report: Mapping[str, Any],
) -> None:
    previous = store.read_study_meta()
    variants = list(grouping.variants)
    variant_configs: dict[str, Any] = {
        v: unflatten(dict(values)) for v, values in grouping.variants.items()
    }
    if previous is not None:  # runs of an earlier import stay (they are never removed)
        variants += [v for v in previous.variants if v not in grouping.variants]
        variant_configs = {**previous.variant_configs, **variant_configs}
    other: dict[str, Any] = {
        IMPORT_META: {
            "source": origin.kind,
            "location": origin.location,
            "variant_by": list(grouping.variant_keys),
            "variant_keys_chosen": grouping.chosen_by,
            "seed_key": grouping.seed_key,
            "read_only": True,
            **report,
        }
    }
    store.write_study_meta(
        StudyMeta(
            name=name,
            description=f"runs imported from {origin.kind} {origin.location}",
            metric=metric,
            direction=direction,
            # no seeds were planned: each variant has the seeds it ran (a planned seed would
            # count as a run still to come)
            seeds=(),
            baseline=grouping.baseline,
            variants=tuple(variants),
            base=dict(grouping.common),
            variant_configs=variant_configs,
            source=origin.location,
            updated_at=time.time(),
            factorial=(
                None if grouping.factorial is None else FactorialMeta.from_dict(grouping.factorial)
            ),
            other=other,
        )
    )


def _last_values(curve: Any) -> dict[str, float]:
    import polars as pl

    columns = [c for c in curve.columns if c != "step"]
    if not columns or curve.height == 0:
        return {}
    last = curve.select([pl.col(c).drop_nulls().last() for c in columns]).row(0, named=True)
    return {k: float(v) for k, v in last.items() if v is not None}


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def run_label(run: SourceRun) -> str:
    """How a run is named in messages: its name, and its id where that differs."""
    return run.name if run.name == run.run_id else f"{run.name} ({run.run_id})"
