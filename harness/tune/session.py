"""``harness tune``'s one entry point: a seed-aware hyperparameter search through Optuna, or,
with ``transfer``, the study that applies the search's choice at a target size.

Runs trials until the study's Optuna storage holds ``trials`` complete + pruned trials (a
rerun resumes; several processes on one storage cooperate), re-evaluates the top trials on
fresh seeds, and names a winner only if it separates from the runner-up.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harness.study.source import StudySource

if TYPE_CHECKING:
    from rich.console import Console

    from harness.study.search import SearchConfig
    from harness.study.spec import StudySpec


@dataclass(frozen=True, kw_only=True)
class TuneSettings:
    """What ``harness tune`` was asked.

    Attributes:
        source: the study file (with its ``[search]`` table), ``--set`` and ``--seeds``.
        runs_dir: the runs root; None for the default.
        trials: trials in all, complete + pruned, counting earlier runs; None for the
            study's ``search.trials``.
        jobs: runs at once; None for one per GPU, else one per CPU core.
        threads: CPU threads per run; None to split the cores.
        device: ``auto``, ``cpu`` or ``cuda``.
        format: ``table`` or ``json`` (the summary as JSON on stdout, the rest on stderr).
        fresh: start the search over; the study directory (with its storage) is moved aside.
        wandb: log to wandb (as the study's ``[wandb]`` says); False: never.
        plots: write the plot files.
        transfer: ``KEY=VALUE`` assignments: run nothing, write a study applying the search's
            choice with them changed; empty for a search.
        output: where the transferred study is written; None for the tune directory.
    """

    source: StudySource
    runs_dir: str | None = None
    trials: int | None = None
    jobs: int | None = None
    threads: int | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    format: Literal["table", "json"] = "table"
    fresh: bool = False
    wandb: bool = True
    plots: bool = True
    transfer: tuple[str, ...] = ()
    output: Path | None = None


def run_tune(settings: TuneSettings) -> int:
    """Search (or transfer) as ``settings`` asks and print the summary.

    Args:
        settings: the study file and how to search.

    Returns:
        0 (bad input raises).

    Raises:
        SpecError: the study file or its ``[search]`` table is invalid.
        UserError: e.g. ``fresh`` on a storage that is not a local file.
    """
    from rich.console import Console

    from harness.store import runs_root
    from harness.tune.config import search_of

    spec = settings.source.load()
    search = search_of(spec)
    study_dir = runs_root(settings.runs_dir) / spec.name
    console = Console(stderr=settings.format == "json", soft_wrap=True)
    if settings.transfer:
        return _transfer(settings, spec, search, study_dir, console)
    return _tune(settings, spec, search, study_dir, console)


def _tune(
    settings: TuneSettings,
    spec: StudySpec,
    search: SearchConfig,
    study_dir: Path,
    console: Console,
) -> int:
    import time

    from harness.errors import UserError
    from harness.executors.local import LocalExecutor
    from harness.report.progress import RichProgress
    from harness.run.runner import wandb_settings
    from harness.store import FileSystemStore
    from harness.tune.report import param_importances, print_report, save_plots, summarize
    from harness.tune.search import Search
    from harness.tune.storage import is_local, storage_location, tune_dir
    from harness.tune.transfer import CHECK_ATTR
    from harness.tune.winner import SeparationCheck, reevaluate, separation_check, top_trials

    if settings.fresh:
        if not is_local(search.storage):
            raise UserError(
                "--fresh moves the study directory aside, but this search's storage is "
                f"{search.storage!r}: set search.study_name to start a new search there"
            )
        FileSystemStore(study_dir).archive()
    started = time.monotonic()
    target = settings.trials or search.trials
    wandb = wandb_settings(spec, disabled=not settings.wandb, job_type="tune")

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    def executor_factory() -> LocalExecutor:
        return LocalExecutor(jobs=settings.jobs, threads=settings.threads, device=settings.device)

    search_loop = Search(
        spec,
        search,
        study_dir=study_dir,
        target=target,
        executor_factory=executor_factory,
        wandb=wandb,
        say=say,
    )
    console.print(
        f"tuning '{spec.name}': {len(search.space)} parameters, {target} trials x "
        f"{len(search.seeds)} seeds; storage {storage_location(search.storage, study_dir)}"
    )
    study = search_loop.run()

    check: SeparationCheck | None = None
    if search.top_k:
        trials = top_trials(study, search.top_k)
        if len(trials) >= 2:
            console.print(
                f"re-evaluating the top {len(trials)} trials on fresh seeds "
                f"{','.join(map(str, search.fresh_seeds))}"
            )
            reevaluate(
                spec,
                search,
                trials,
                runs_root=study_dir.parent,
                executor_factory=executor_factory,
                wandb=wandb,
                progress=RichProgress(console) if settings.format == "table" else None,
            )
            check = separation_check(spec, search, trials, study_dir)
        else:
            check = SeparationCheck(
                verdict="skipped",
                alpha=search.alpha,
                fresh_seeds=search.fresh_seeds,
                reason="fewer than 2 complete trials with distinct parameters",
            )
        study.set_user_attr(
            CHECK_ATTR,
            {
                k: v
                for k, v in check.to_dict().items()
                if k in ("verdict", "winner", "tied", "reason")
            },
        )
    plots = {} if not settings.plots else save_plots(study, tune_dir(study_dir) / "plots")
    summary = summarize(
        study,
        check=check,
        storage=storage_location(search.storage, study_dir),
        plots=plots,
        importances=param_importances(study),
    )
    summary["trials_run_here"] = search_loop.trials_run
    summary["wall_s"] = round(time.monotonic() - started, 1)
    if settings.format == "json":
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print_report(console, summary, metric=spec.metric, direction=spec.direction)
        console.print(f"done in {summary['wall_s']:.0f}s; runs in {study_dir}/runs")
    return 0


def _transfer(
    settings: TuneSettings,
    spec: StudySpec,
    search: SearchConfig,
    study_dir: Path,
    console: Console,
) -> int:
    from harness.tune.search import open_study
    from harness.tune.storage import tune_dir
    from harness.tune.transfer import (
        chosen_trial,
        parse_assignments,
        transfer_study,
        write_transfer,
    )

    targets = parse_assignments(list(settings.transfer))
    study = open_study(spec, search, study_dir)
    trial, basis = chosen_trial(study)
    text, transferred, warnings = transfer_study(spec, search, trial, targets, basis=basis)
    path = settings.output or tune_dir(study_dir) / f"{transferred.name}.toml"
    write_transfer(text, path)
    if settings.format == "json":
        payload = {
            "study_file": str(path),
            "trial": trial.number,
            "basis": basis,
            "params": dict(trial.params),
            "targets": targets,
            "warnings": warnings,
        }
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(text)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"wrote {path}; run it with: harness study {path}")
    return 0
