"""``harness study``'s one entry point: run a study file in the shape it has — one study,
one study ``--until-decided``, or phases in order — print its summary, return the exit code.

The command turns its flags into a :class:`StudySettings` and calls :func:`run_study_file`;
nothing here sees argparse. The runs themselves go through :func:`harness.run.runner.run_study`
(one scheduler for every shape).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.run.adaptive import AdaptiveSettings
from harness.study.executor import ExecutorSettings
from harness.study.phases import PhasedStudy
from harness.study.source import StudySource
from harness.study.spec import StudySpec

if TYPE_CHECKING:
    from rich.console import Console

    from harness.run.runner import StudyOutcome
    from harness.store import RunKey

# A warning many runs gave alike names this many of them.
RUNS_SHOWN = 4


@dataclass(frozen=True, kw_only=True)
class StudySettings:
    """How to run a study file: what ``harness study`` was asked.

    Attributes:
        source: the study file, its ``--set`` overrides and ``--seeds``.
        runs_dir: the runs root; None for ``$HARNESS_RUNS_DIR`` or ``./runs``.
        executor: values laid over the study's ``[executor]`` table, by
            :class:`~harness.study.executor.ExecutorSettings` field name (``kind``, ``jobs``,
            ``partition`` ...); a key left out keeps the study's value.
        threads: CPU threads per run; None divides the cores among the jobs.
        device: ``auto``, ``cpu`` or ``cuda``.
        fresh: start the study over; the old directory is moved aside.
        retry_failed: rerun runs that failed.
        until_decided: the sequential design that adds seeds to undecided comparisons
            (``--until-decided``); None runs the study's seeds only.
        wandb: log to wandb (as the study's ``[wandb]`` says); False: never.
        progress: show the live progress display.
        format: ``table`` (the summary on stdout) or ``json`` (the summary as JSON on stdout,
            the table and progress on stderr).
    """

    source: StudySource
    runs_dir: str | None = None
    executor: Mapping[str, Any] = field(default_factory=dict)
    threads: int | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    fresh: bool = False
    retry_failed: bool = False
    until_decided: AdaptiveSettings | None = None
    wandb: bool = True
    progress: bool = True
    format: Literal["table", "json"] = "table"


def executor_of(spec: StudySpec, overrides: Mapping[str, Any]) -> ExecutorSettings:
    """The study's ``[executor]`` settings with ``overrides`` laid over them.

    Args:
        spec: the study, whose ``executor`` was validated at the door.
        overrides: field name -> value; ``ExecutorSettings`` checks each value again.

    Returns:
        The settings the executor is built with.
    """
    return dataclasses.replace(spec.executor, **overrides)


def run_study_file(settings: StudySettings) -> int:
    """Run the study file of ``settings`` in its shape and print its summary.

    Args:
        settings: the study file and how to run it.

    Returns:
        The exit code: 0 when every run finished, 1 when one failed or is unfinished (for
        phases, the worst phase's code).

    Raises:
        SpecError: the study file is invalid.
        UserError: the store refuses (a changed config, a damaged ``study.json`` ...).
    """
    from rich.console import Console

    from harness.store import runs_root

    shape = settings.source.read()
    console = Console(stderr=settings.format == "json")
    root = runs_root(settings.runs_dir)
    summaries: list[dict[str, Any]] = []  # each study's (phase's) summary, for --format json
    if isinstance(shape, PhasedStudy):
        return _run_phased(shape, root, settings, console, summaries)
    code = _run_one(shape, root, settings, console, summaries)
    if settings.format == "json" and summaries:
        _print_json(summaries[-1])
    return code


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _summarize(
    console: Console,
    spec: StudySpec,
    outcome: Any,
    settings: StudySettings,
    summaries: list[dict[str, Any]],
) -> int:
    """Print the summary table; with --format json also keep it as data. Returns the code."""
    from harness.report.summary import print_summary
    from harness.results.summary_data import summary_payload

    _print_record_warnings(console, outcome)
    code = print_summary(console, spec, outcome, workers=_workers(settings))
    if settings.format == "json":
        summaries.append(summary_payload(spec, outcome, exit_code=code))
    return code


def _print_record_warnings(console: Console, outcome: Any) -> None:
    """What the runs executed now reported that harness left out, naming each run; a warning
    many runs gave alike (what "auto" yielded to a results file, say) is printed once."""
    from rich.markup import escape

    runs_of: dict[str, list[str]] = {}
    for record in outcome.executed:
        for warning in record.warnings:
            runs_of.setdefault(warning, []).append(f"{record.variant}-s{record.seed}")
    for warning, runs in runs_of.items():
        shown = ", ".join(runs[:RUNS_SHOWN]) + (
            f" and {len(runs) - RUNS_SHOWN} more" if len(runs) > RUNS_SHOWN else ""
        )
        console.print(f"[yellow]warning: {escape(f'{shown}: {warning}')}")


def _workers(settings: StudySettings) -> int | None:
    """Runs at once, for the summary's overhead line: ``--jobs``, else the local default."""
    jobs = settings.executor.get("jobs")
    if jobs:
        return int(jobs)
    if settings.executor.get("kind") not in (None, "local"):
        return None  # a cluster's capacity is its own
    from harness.executors.local import default_jobs, visible_gpus

    return default_jobs([] if settings.device == "cpu" else visible_gpus())


def _print_warnings(console: Console, spec: StudySpec) -> None:
    """What ``harness validate`` warns about (a seed that never reaches the command ...)."""
    from rich.markup import escape

    from harness.study.checks import study_warnings

    for warning in study_warnings(spec):
        console.print(f"[yellow]warning: {escape(warning)}")


def _run_one(
    spec: StudySpec,
    root: Path,
    settings: StudySettings,
    console: Console,
    summaries: list[dict[str, Any]],
) -> int:
    """Run one study's unfinished runs and print its summary; returns the exit code."""
    from harness.executors import make_executor
    from harness.report.progress import RichProgress
    from harness.run.runner import run_study, wandb_settings

    executor = executor_of(spec, settings.executor)
    _print_warnings(console, spec)

    def run_runs(
        spec: StudySpec, only: set[RunKey] | None = None, fresh: bool = False
    ) -> StudyOutcome:
        return run_study(
            spec,
            runs_root=root,
            executor_factory=lambda: make_executor(
                executor.kind,
                settings=executor,
                jobs=executor.jobs,
                threads=settings.threads,
                device=settings.device,
            ),
            fresh=fresh,
            retry_failed=settings.retry_failed,
            wandb=wandb_settings(spec, disabled=not settings.wandb),
            progress=RichProgress(metric=spec.metric) if settings.progress else None,
            only=only,
        )

    if settings.until_decided is None:
        outcome = run_runs(spec, fresh=settings.fresh)
        return _summarize(console, spec, outcome, settings, summaries)
    return _run_adaptive(spec, root, settings.until_decided, settings, console, summaries, run_runs)


def _run_adaptive(
    spec: StudySpec,
    root: Path,
    adaptive: AdaptiveSettings,
    settings: StudySettings,
    console: Console,
    summaries: list[dict[str, Any]],
    run_runs: Any,
) -> int:
    from harness.report.sequential_view import print_report
    from harness.run.adaptive import run_until_decided
    from harness.run.runner import StudyOutcome, archive_for_fresh, study_dir_for
    from harness.store import FileSystemStore, load_table

    study_dir = study_dir_for(spec, root)
    if settings.fresh:
        archive_for_fresh(FileSystemStore(study_dir))
    rounds: list[tuple[StudySpec, StudyOutcome]] = []

    def run(spec_: StudySpec, only: set[RunKey] | None) -> StudyOutcome:
        rounds.append((spec_, run_runs(spec_, only)))
        return rounds[-1][1]

    report = run_until_decided(
        spec,
        adaptive,
        run=run,
        load_table=load_table,
        study_dir=study_dir,
        announce=console.print,
    )
    outcome = StudyOutcome(
        study_dir=study_dir,
        planned=[plan for _, done in rounds for plan in done.planned],
        skipped=[key for _, done in rounds for key in done.skipped],
        executed=[record for _, done in rounds for record in done.executed],
        busy=[key for _, done in rounds for key in done.busy],
    )
    code = _summarize(console, rounds[-1][0], outcome, settings, summaries)
    print_report(report, console)
    return code


def _run_phased(
    phased: PhasedStudy,
    root: Path,
    settings: StudySettings,
    console: Console,
    summaries: list[dict[str, Any]],
) -> int:
    """Run the phases in order, each as one study under ``root / phased.name``."""
    from harness.run.phased import run_phases
    from harness.store import load_table
    from harness.store.layout import phase_decisions_file

    codes: list[int] = []
    decisions = run_phases(
        phased,
        runs_root=root,
        run_phase=lambda spec, phase_root: codes.append(
            _run_one(spec, phase_root, settings, console, summaries)
        ),
        load_table=load_table,
        announce=console.print,
    )
    console.print(f"[bold]{phased.name}: {len(decisions)} phase(s)")
    for decision in decisions:
        console.print(f"  {decision.describe()}")
    console.print(f"Decisions in {phase_decisions_file(root / phased.name)}")
    code = max(codes, default=0)
    if settings.format == "json":
        _print_json(
            {
                "study": phased.name,
                "phased": True,
                "exit_code": code,
                "phases": summaries,
                "decisions": [decision.to_dict() for decision in decisions],
            }
        )
    return code
