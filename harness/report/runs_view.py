"""What ``harness runs`` prints: every run of a study with its status and final metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.report.listing import Listing
from harness.store import FileSystemStore, StudyMeta


def runs_listing(study_dir: Path, meta: StudyMeta) -> Listing:
    """One row per run that has a config (planned, running or finished), and one per damaged
    run folder (status ``damaged``: left out of every result, the note says why).

    Args:
        study_dir: the study directory.
        meta: its description (for the primary metric).

    Returns:
        The listing; its JSON payload is ``{"study", "study_dir", "metric", "counts",
        "runs": [{"variant", "seed", "status", <metric>, "wall_time_s", "note",
        "config_hash", "final_metrics", "started_at", "ended_at"}]}``.
    """
    store = FileSystemStore(study_dir)
    metric = meta.metric
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for key in store.run_keys():
        status = store.status(key)
        counts[status] = counts.get(status, 0) + 1
        record = store.read_record(key)
        config = store.read_config(key)
        rows.append(
            {
                "variant": key.variant,
                "seed": key.seed,
                "status": status,
                metric: record.final_metrics.get(metric) if record else None,
                "wall_time_s": record.wall_time_s if record else None,
                "note": (record.error or "") if record else "; ".join(store.problems(key)),
                "config_hash": config.config_hash if config else None,
                "final_metrics": dict(record.final_metrics) if record else {},
                "started_at": record.started_at if record else None,
                "ended_at": record.ended_at if record else None,
            }
        )
    for folder, damaged_key, problem in store.damaged_runs():  # left out of every result
        counts["damaged"] = counts.get("damaged", 0) + 1
        rows.append(
            {
                "variant": damaged_key.variant if damaged_key else folder.parent.name,
                "seed": damaged_key.seed if damaged_key else None,
                "status": "damaged",
                metric: None,
                "wall_time_s": None,
                "note": f"{folder}: {problem}",
                "config_hash": None,
                "final_metrics": {},
                "started_at": None,
                "ended_at": None,
            }
        )
    counted = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return Listing(
        title=f"{meta.name} ({study_dir})",
        columns=("variant", "seed", "status", metric, "wall_time_s", "note"),
        rows=rows,
        footer=[counted or "no runs yet"],
        payload={
            "study": meta.name,
            "study_dir": str(study_dir),
            "metric": metric,
            "counts": dict(sorted(counts.items())),
            "runs": rows,
        },
    )


@dataclass(frozen=True, kw_only=True)
class RunsSettings:
    """What ``harness runs`` was asked.

    Attributes:
        study_dir: a study directory or name, or None for the most recent study.
        runs_dir: the runs root; None for the default.
        format: ``table``, ``json``, ``markdown`` or ``csv``.
    """

    study_dir: str | None = None
    runs_dir: str | None = None
    format: Literal["table", "json", "markdown", "csv"] = "table"


def show_runs(settings: RunsSettings) -> int:
    """``harness runs``' one entry point: the study's runs, printed in ``settings.format``.

    Returns:
        0 (a missing study raises).

    Raises:
        UserError: no study at ``settings.study_dir``.
    """
    from harness.report.listing import render_listing
    from harness.store import find_study_dir, load_study_meta

    study_dir = find_study_dir(settings.study_dir, runs_dir=settings.runs_dir)
    render_listing(runs_listing(study_dir, load_study_meta(study_dir)), settings.format)
    return 0
