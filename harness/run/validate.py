"""``harness validate``'s one entry point: a study file checked and its runs listed, with
nothing run and nothing written; optionally the group-sequential design ``--until-decided
--max-seeds`` would use.

A phased study (a shape of the study file, :class:`harness.study.source.StudySource`) is
listed phase by phase, each phase as the study it will run (a ``base_from`` phase on its
baseline until it is decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.run.adaptive import AdaptiveSettings
from harness.run.metric_paths import refuse_harness_files
from harness.study.phases import PhasedStudy
from harness.study.source import StudySource
from harness.study.spec import StudySpec


@dataclass(frozen=True, kw_only=True)
class ValidateSettings:
    """What ``harness validate`` was asked.

    Attributes:
        source: the study file, its ``--set`` overrides and ``--seeds``.
        runs_dir: the runs root the run directories are listed under; None for the default.
        format: ``table``, ``json``, ``markdown`` or ``csv``.
        design: the group-sequential design to show (its budget, alpha and margin), or None.
    """

    source: StudySource
    runs_dir: str | None = None
    format: Literal["table", "json", "markdown", "csv"] = "table"
    design: AdaptiveSettings | None = None


def validate_study(settings: ValidateSettings) -> int:
    """Validate the study file, print its run list (stdout) and warnings (stderr).

    Args:
        settings: the study file and what to show.

    Returns:
        0 (an invalid file raises).

    Raises:
        SpecError: the study file is invalid.
        UserError: a design was asked for a study with no variant besides the baseline.
    """
    from harness.report.listing import render_listing
    from harness.report.plan_view import PlannedStudy, plan_listing
    from harness.store import runs_root

    shape = settings.source.read()
    root = runs_root(settings.runs_dir)
    if isinstance(shape, PhasedStudy):
        studies = [
            PlannedStudy(
                spec=(spec := shape.phase_spec(index, {})),
                study_dir=root / shape.name / spec.name,
                phase=index,
                base_from=phase.get("base_from"),
            )
            for index, phase in enumerate(shape.phases)
        ]
    else:
        studies = [PlannedStudy(spec=shape, study_dir=root / shape.name)]
    for planned in studies:
        refuse_harness_files(planned.spec)
    listing = plan_listing(str(settings.source.path), shape.name, studies)
    if studies[0].phase is None and studies[0].spec.factorial is not None:
        from harness.report.factorial import with_design  # cells, and a fraction's aliases

        listing = with_design(listing, studies[0].spec.factorial)
    render_listing(listing, settings.format)
    _print_warnings([planned.spec for planned in studies])
    if settings.design is not None:
        _print_design(studies[0].spec, settings.design, settings.format)
    return 0


def _print_design(spec: StudySpec, adaptive: AdaptiveSettings, fmt: str) -> None:
    """The per-look boundaries of the group-sequential design ``--max-seeds`` asks for, on
    stderr (the run list on stdout stays parseable)."""
    from rich.console import Console

    from analysis.group_sequential import (
        design_boundaries,
        operating_characteristics,
        planned_looks,
    )
    from harness.errors import UserError
    from harness.report.sequential_view import print_boundaries
    from harness.run.adaptive import seed_sequence

    comparisons = sum(1 for v in spec.variants if v.name != spec.baseline)
    if comparisons == 0:
        raise UserError("--max-seeds: the study has no variant besides the baseline")
    design = adaptive.design(comparisons)
    first = min(len(spec.seeds), len(seed_sequence(spec, adaptive.max_seeds)))
    looks = planned_looks(design, first=first)
    bounds = design_boundaries(design, looks)
    expected = None if design.margin is not None else operating_characteristics(design, looks)
    shown = fmt if fmt in ("json", "markdown") else "table"
    print_boundaries(design, bounds, Console(stderr=True), fmt=shown, characteristics=expected)


def _print_warnings(specs: list[StudySpec]) -> None:
    """Warnings about a valid study that would not measure what it should, on stderr (the
    listing on stdout stays parseable); the exit code stays 0."""
    from rich.console import Console
    from rich.markup import escape

    from harness.study.checks import study_warnings

    console = Console(stderr=True)
    seen: set[str] = set()
    for spec in specs:
        for warning in study_warnings(spec):
            if warning not in seen:  # phases share their commands
                seen.add(warning)
                console.print(f"[yellow]warning: {escape(warning)}")
