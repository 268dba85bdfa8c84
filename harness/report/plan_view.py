"""What ``harness validate`` prints: a study's (or each phase's) planned runs.

One row per (variant, seed) run with its kind, config hash, run directory and the keys the
variant overrides, for a plain study or for every phase of a phased one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report.listing import Listing
from harness.study.spec import StudySpec
from harness.study.tables import format_key

PLAN_COLUMNS = ("variant", "seed", "kind", "config_hash", "run_dir", "overrides")


@dataclass(frozen=True, kw_only=True)
class PlannedStudy:
    """A study (or one phase of a phased study) as it would run.

    Attributes:
        spec: the validated study (a phase is a study named after the phase).
        study_dir: where its runs would go.
        phase: the phase's position (0-based) in a phased study, else None.
        base_from: the phase whose chosen variant it builds on, if any.
    """

    spec: StudySpec
    study_dir: Path
    phase: int | None = None
    base_from: str | None = None


def plan_listing(source: str, name: str, studies: Sequence[PlannedStudy]) -> Listing:
    """The listing of every planned run of ``studies``.

    Args:
        source: the study file, as named on the command line.
        name: the study's name.
        studies: the study, or each phase in order.

    Returns:
        The listing; its JSON payload is ``{"file", "valid", "name", "phased", "n_runs",
        "studies": [...], "runs": [...]}``, each run with its ``phase`` (None for a plain study).
    """
    phased = any(s.phase is not None for s in studies)
    rows: list[dict[str, Any]] = []
    header: list[str] = []
    described: list[dict[str, Any]] = []
    for study in studies:
        spec = study.spec
        n_runs = len(spec.variants) * len(spec.seeds)
        described.append(
            {
                "name": spec.name,
                "phase": study.phase,
                "base_from": study.base_from,
                "metric": spec.metric,
                "direction": spec.direction,
                "baseline": spec.baseline,
                "variants": [v.name for v in spec.variants],
                "seeds": list(spec.seeds),
                "study_dir": str(study.study_dir),
                "n_runs": n_runs,
            }
        )
        header.append(_describe(study, n_runs))
        for variant in spec.variants:
            overrides = flatten(variant.overrides)
            for seed in spec.seeds:
                rows.append(
                    {
                        "phase": spec.name if study.phase is not None else None,
                        "variant": variant.name,
                        "seed": seed,
                        "kind": variant.kind,
                        "config_hash": variant.config_hash,
                        "run_dir": str(study.study_dir / "runs" / variant.name / f"s{seed}"),
                        "overrides": overrides,
                    }
                )
    total = len(rows)
    if phased:
        intro = f"{source} is valid: study '{name}', {len(studies)} phases, {total} runs"
        header = [
            intro,
            *header,
            "a phase with base_from builds on that phase's chosen variant, decided when it has "
            "run; until then it is shown on that phase's baseline",
        ]
    else:
        header = [f"{source} is valid: {header[0]}"]
    table_rows = [
        {**row, "overrides": _overrides_text(row["overrides"]) or "(base)"} for row in rows
    ]
    return Listing(
        title="planned runs",
        columns=(("phase",) if phased else ()) + PLAN_COLUMNS,
        rows=table_rows,
        header=header,
        payload={
            "file": source,
            "valid": True,
            "name": name,
            "phased": phased,
            "n_runs": total,
            "studies": described,
            "runs": rows,
        },
    )


def flatten(table: Mapping[str, Any], prefix: Sequence[str] = ()) -> dict[str, Any]:
    """``{"model": {"n_layer": 2}}`` -> ``{"model.n_layer": 2}``, keys as TOML writes them."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, (*prefix, key)))
        else:
            flat[format_key([*prefix, key])] = value
    return flat


def _overrides_text(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())


def _describe(study: PlannedStudy, n_runs: int) -> str:
    spec = study.spec
    what = f"phase {study.phase + 1}" if study.phase is not None else "study"
    built = f", builds on '{study.base_from}'" if study.base_from else ""
    return (
        f"{what} '{spec.name}': metric {spec.metric} ({spec.direction}), "
        f"baseline {spec.baseline}{built}, "
        f"{len(spec.variants)} variants x {len(spec.seeds)} seeds = {n_runs} runs into "
        f"{study.study_dir}"
    )
