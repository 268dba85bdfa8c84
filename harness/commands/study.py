"""``harness study STUDY.toml``: run every variant across seeds; resumes where it stopped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._common import add_format_argument, add_study_arguments, positive
from harness.commands._executor import add_executor_arguments

if TYPE_CHECKING:
    from rich.console import Console

    from harness.store import RunKey
    from harness.study.spec import StudySpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--jobs",
        type=positive,
        default=None,
        help="runs at once (default: one per GPU, else one per CPU core)",
    )
    parser.add_argument(
        "--threads",
        type=positive,
        default=None,
        help="CPU threads per run (default: cores divided among jobs)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_executor_arguments(parser)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start the study over; the old directory is moved aside",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun runs that failed (crashed or exited non-zero)",
    )
    adaptive = parser.add_argument_group("adaptive seeding (anytime-valid)")
    adaptive.add_argument(
        "--until-decided",
        action="store_true",
        help="after the study's seeds, add seeds only to comparisons that are "
        "still undecided, until decided or --max-seeds",
    )
    adaptive.add_argument(
        "--max-seeds",
        type=positive,
        default=None,
        help="a seed budget per variant for --until-decided: runs the group-sequential design "
        "(error spending over looks after every seed up to it, non-binding futility; "
        "docs/sequential.md). Without it the anytime-valid design runs, stopping at 10 seeds",
    )
    adaptive.add_argument(
        "--design",
        choices=("auto", "anytime-valid", "group-sequential"),
        default="auto",
        help="sequential design with --until-decided (default auto: group-sequential when "
        "--max-seeds is given, else anytime-valid)",
    )
    adaptive.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise error level with --until-decided (default 0.05)",
    )
    adaptive.add_argument(
        "--margin",
        type=float,
        default=None,
        help="equivalence margin in metric units (enables 'equivalent'); with --max-seeds, "
        "the minimal effect of interest of the futility boundary (default: the effect the "
        "budget detects with 80%% power, in units of the seed noise)",
    )
    parser.add_argument("--no-wandb", action="store_true", help="do not log to wandb")
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")
    # json: the summary as JSON on stdout; the table and progress go to stderr
    add_format_argument(parser, ("table", "json"))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.store import runs_root
    from harness.study.spec import located_in, parse_study, read_study_file

    path = Path(args.study_file)
    raw, text = read_study_file(path, overrides=args.overrides, seeds=args.seeds)
    console = Console(stderr=args.format == "json")
    root = runs_root(args.runs_dir)
    args.summaries = []  # the summary of each study (phase) run, for --format json
    if "phases" in raw:
        code = _run_phased(raw, path, text, root, args, console)
    else:
        with located_in(path, text):
            spec = parse_study(raw, source=path)
        code = _run_one(spec, root, args, console)
        if args.format == "json" and args.summaries:
            _print_json(args.summaries[-1])
    return code


def _print_json(payload: dict[str, Any]) -> None:
    import json
    import sys

    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _summarize(console: Console, spec: StudySpec, outcome: Any, args: argparse.Namespace) -> int:
    """Print the summary table; with --format json also keep it as data. Returns the code."""
    from harness.report.summary import print_summary
    from harness.results.summary_data import summary_payload

    _print_record_warnings(console, outcome)
    code = print_summary(console, spec, outcome, workers=_workers(args))
    if args.format == "json":
        args.summaries.append(summary_payload(spec, outcome, exit_code=code))
    return code


def _print_record_warnings(console: Console, outcome: Any) -> None:
    """What the runs executed now reported that harness left out, naming each run."""
    from rich.markup import escape

    for record in outcome.executed:
        for warning in record.warnings:
            console.print(
                f"[yellow]warning: {escape(f'{record.variant}-s{record.seed}: {warning}')}"
            )


def _workers(args: argparse.Namespace) -> int | None:
    """Runs at once, for the summary's overhead line: ``--jobs``, else the local default."""
    if args.jobs:
        return int(args.jobs)
    if getattr(args, "executor", "local") not in (None, "local"):
        return None  # a cluster's capacity is its own
    from harness.executors.local import default_jobs, visible_gpus

    return default_jobs([] if args.device == "cpu" else visible_gpus())


def _print_warnings(console: Console, spec: StudySpec) -> None:
    """What ``harness validate`` warns about (a seed that never reaches the command ...)."""
    from rich.markup import escape

    from harness.study.checks import study_warnings

    for warning in study_warnings(spec):
        console.print(f"[yellow]warning: {escape(warning)}")


def _run_one(spec: StudySpec, root: Path, args: argparse.Namespace, console: Console) -> int:
    """Run one study's unfinished runs and print its summary; returns the exit code."""
    from harness.commands._executor import executor_settings
    from harness.executors import make_executor
    from harness.report.progress import RichProgress
    from harness.run.runner import run_study, wandb_settings

    settings = executor_settings(spec, args)
    _print_warnings(console, spec)

    def run_runs(spec: StudySpec, only: set[RunKey] | None = None, fresh: bool = False):
        return run_study(
            spec,
            runs_root=root,
            executor_factory=lambda: make_executor(
                settings.kind,
                settings=settings,
                jobs=settings.jobs,
                threads=args.threads,
                device=args.device,
            ),
            fresh=fresh,
            retry_failed=args.retry_failed,
            wandb=wandb_settings(spec, disabled=args.no_wandb),
            progress=None if args.no_progress else RichProgress(metric=spec.metric),
            only=only,
        )

    if not args.until_decided:
        return _summarize(console, spec, run_runs(spec, fresh=args.fresh), args)
    return _run_adaptive(spec, root, args, console, run_runs)


def _run_adaptive(
    spec: StudySpec, root: Path, args: argparse.Namespace, console: Console, run_runs: Any
) -> int:
    from harness.report.sequential_view import print_report
    from harness.run.adaptive import AdaptiveSettings, run_until_decided
    from harness.run.runner import StudyOutcome, archive_for_fresh, study_dir_for
    from harness.store import FileSystemStore, load_table

    settings = AdaptiveSettings(
        max_seeds=args.max_seeds if args.max_seeds is not None else 10,
        alpha=args.alpha,
        margin=args.margin,
        group_sequential=(
            args.design == "group-sequential"
            or (args.design == "auto" and args.max_seeds is not None)
        ),
    )
    study_dir = study_dir_for(spec, root)
    if args.fresh:
        archive_for_fresh(FileSystemStore(study_dir))
    rounds: list[tuple[StudySpec, StudyOutcome]] = []

    def run(spec_: StudySpec, only: set[RunKey] | None) -> StudyOutcome:
        rounds.append((spec_, run_runs(spec_, only)))
        return rounds[-1][1]

    report = run_until_decided(
        spec, settings, run=run, load_table=load_table, study_dir=study_dir, announce=console.print
    )
    outcome = StudyOutcome(
        study_dir=study_dir,
        planned=[plan for _, done in rounds for plan in done.planned],
        skipped=[key for _, done in rounds for key in done.skipped],
        executed=[record for _, done in rounds for record in done.executed],
        busy=[key for _, done in rounds for key in done.busy],
    )
    code = _summarize(console, rounds[-1][0], outcome, args)
    print_report(report, console)
    return code


def _run_phased(
    raw: dict[str, Any],
    path: Path,
    text: str,
    root: Path,
    args: argparse.Namespace,
    console: Console,
) -> int:
    from harness.run.phased import run_phases
    from harness.store import load_table
    from harness.study.phases import parse_phased

    phased = parse_phased(raw, source=path, text=text)
    codes: list[int] = []
    decisions = run_phases(
        phased,
        runs_root=root,
        run_phase=lambda spec, phase_root: codes.append(_run_one(spec, phase_root, args, console)),
        load_table=load_table,
        announce=console.print,
    )
    console.print(f"[bold]{phased.name}: {len(decisions)} phase(s)")
    for decision in decisions:
        console.print(f"  {decision.describe()}")
    console.print(f"Decisions in {root / phased.name / 'phases.json'}")
    code = max(codes, default=0)
    if args.format == "json":
        _print_json(
            {
                "study": phased.name,
                "phased": True,
                "exit_code": code,
                "phases": args.summaries,
                "decisions": [decision.to_dict() for decision in decisions],
            }
        )
    return code
