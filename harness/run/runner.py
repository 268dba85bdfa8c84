"""Expand a study into runs, skip what is finished, execute the rest, never lose a result.

Resuming is the default: a run with a record (done, diverged, or failed unless
``retry_failed``) is skipped; one without a record is (re)run from scratch. A run whose stored
config differs from the study's is refused unless the user asks for a fresh study, which moves
the old study directory aside rather than deleting it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import UserError, closest, os_error_message
from harness.executors import Executor, RunPlan
from harness.run.metric_paths import refuse_harness_files
from harness.run.scheduler import Scheduler
from harness.run.study_meta import study_meta
from harness.store import FileSystemStore, RunKey
from harness.store.records import RunRecord
from harness.study.spec import StudySpec, WandbSettings
from harness.study.tables import changed_keys
from harness.worker.execute import missed_the_study_metric, reported_one_metric_twice
from harness.worker.wandb_sink import resolve_entity, resolve_mode, resolve_project


@dataclass(frozen=True, kw_only=True)
class StudyOutcome:
    """What a ``harness study`` invocation did.

    Attributes:
        study_dir: the study directory.
        planned: every run of the study.
        skipped: runs already finished before this invocation.
        executed: records of the runs this invocation finished.
        busy: runs another live process is running right now (left to it).
    """

    study_dir: Path
    planned: list[RunPlan]
    skipped: list[RunKey] = field(default_factory=list)
    executed: list[RunRecord] = field(default_factory=list)
    busy: list[RunKey] = field(default_factory=list)


class ProgressSink(Protocol):
    """What the runner tells a progress display (``harness.report.progress.RichProgress`` is
    one, by its methods: the report layer does not import the runner). Subclass it for
    no-op defaults."""

    def start(self, *, total: int, finished: int, active_plans: list[RunPlan]) -> None:
        return None

    def started(self, plan: RunPlan) -> None:
        return None

    def tick(self) -> None:
        return None

    def finished(self, plan: RunPlan, record: RunRecord | None) -> None:
        return None

    def stop(self) -> None:
        return None


class NoProgress(ProgressSink):
    """Shows nothing: the runner's default."""


def study_dir_for(spec: StudySpec, runs_root: Path) -> Path:
    return runs_root / spec.name


def plan_runs(
    spec: StudySpec, store: FileSystemStore, *, wandb: Mapping[str, Any] | None = None
) -> list[RunPlan]:
    """Every (variant, seed) run of the study, variants in file order, seeds interleaved.

    Runs are ordered seed-major (all variants of seed 0, then of seed 1 ...), so an
    interrupted study has complete pairs to compare as early as possible.

    Raises:
        SpecError: a metric source names a file harness writes in the run's folder.
    """
    refuse_harness_files(spec)
    plans = []
    for seed in spec.seeds:
        for variant in spec.variants:
            key = RunKey(variant=variant.name, seed=seed)
            config = json.loads(json.dumps(variant.config))  # a plain, JSON-clean copy
            steps = config.get("train", {}).get("steps") if variant.kind == "builtin" else None
            plans.append(
                RunPlan(
                    key=key,
                    kind=variant.kind,
                    config=config,
                    config_hash=variant.config_hash,
                    run_dir=store.run_dir(key),
                    total_steps=steps,
                    wandb=dict(wandb or {}),
                )
            )
    return plans


def wandb_settings(
    spec: StudySpec, *, disabled: bool = False, job_type: str = "study"
) -> dict[str, Any]:
    """The wandb settings handed to workers, resolved once here: the mode, the project
    (``[wandb] project``, else ``$WANDB_PROJECT``, else the study name), the entity and the
    job type (the command: one of ``harness.worker.wandb_sink.JOB_TYPES``)."""
    return resolve_wandb(spec.wandb, name=spec.name, disabled=disabled, job_type=job_type)


def resolve_wandb(
    wandb: WandbSettings, *, name: str, disabled: bool = False, job_type: str = "study"
) -> dict[str, Any]:
    """:func:`wandb_settings` from a ``[wandb]`` table and a name standing for the study's
    (``harness coordcheck``, which has no study file, passes the defaults and "coordcheck")."""
    mode = resolve_mode(wandb.mode, enabled=wandb.enabled and not disabled)
    return {
        "mode": mode,
        "project": resolve_project(wandb.project, study=name),
        "entity": resolve_entity(wandb.entity),
        "job_type": job_type,
    }


def config_conflicts(
    store: FileSystemStore, plans: Iterable[RunPlan], *, retry_failed: bool = False
) -> list[str]:
    """Finished runs whose stored config differs from the plan, described key by key.

    A failed run that will be retried is no conflict: fixing a broken command and retrying is
    what ``--retry-failed`` is for.
    """
    conflicts = []
    for plan in plans:
        stored = store.read_config(plan.key)
        if stored is None or stored.config_hash == plan.config_hash:
            continue
        record = store.read_record(plan.key)
        if record is None or (retry_failed and record.status == "failed"):
            continue  # nothing finished to protect: the new config replaces it
        changed = changed_keys(stored.config, plan.config)
        conflicts.append(f"{plan.key}: {', '.join(changed[:5]) or 'config'} changed")
    return conflicts


def archive_for_fresh(store: FileSystemStore) -> Path | None:
    """Move a study directory aside for ``--fresh``, unless a live process is running its runs.

    Another ``harness study`` on the same study would go on claiming runs of the old config
    into the new directory, mixing the two configurations without a word.

    Returns:
        Where the old study went (None: there was none).

    Raises:
        UserError: runs of the study are running in another process.
    """
    held = store.live_claims()
    if held:
        shown = ", ".join(
            f"{key} (pid {claim.get('pid')} on {claim.get('host')})" for key, claim in held[:5]
        )
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        raise UserError(
            f"cannot start {store.study_dir} over with --fresh: {len(held)} of its run(s) are "
            f"running in another process: {shown}{more}. Stop that process (or let it finish) "
            "and run again; its finished runs stay in the old directory either way."
        )
    return store.archive()


def run_study(
    spec: StudySpec,
    *,
    runs_root: Path,
    executor_factory: Callable[[], Executor],
    fresh: bool = False,
    retry_failed: bool = False,
    wandb: Mapping[str, Any] | None = None,
    progress: ProgressSink | None = None,
    poll_interval: float = 0.5,
    only: Collection[RunKey] | None = None,
) -> StudyOutcome:
    """Run every unfinished run of ``spec`` (or of ``only`` among them); see the module docstring.

    Raises:
        UserError: finished runs exist with a different config (and not ``fresh``).
    """
    progress = progress or NoProgress()
    store = FileSystemStore(study_dir_for(spec, runs_root))
    store.refuse_if_imported("run a study into it")
    if fresh:
        archive_for_fresh(store)
    plans = plan_runs(spec, store, wandb=wandb)
    # a run of the study reported its metric (one left out by `only` included: an adaptive
    # study's earlier seeds): a run that misses it then is no misspelt metric
    metric_arrived = any(store.status(plan.key) == "done" for plan in plans)
    if only is not None:
        plans = [plan for plan in plans if plan.key in only]
    conflicts = config_conflicts(store, plans, retry_failed=retry_failed)
    if conflicts:
        listing = "\n  ".join(conflicts[:10])
        more = f"\n  ... and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        raise UserError(
            f"the study in {store.study_dir} has finished runs with a different config:\n  "
            f"{listing}{more}\nTo keep them, undo the change; to start over, run again with "
            f"--fresh (the old study directory is moved aside, not deleted)."
        )
    store.write_study_meta(study_meta(spec, updated_at=time.time()))

    outcome = StudyOutcome(study_dir=store.study_dir, planned=plans)
    todo: list[RunPlan] = []
    for plan in plans:
        status = store.status(plan.key)
        if status in ("done", "diverged") or (status == "failed" and not retry_failed):
            outcome.skipped.append(plan.key)
        elif status == "running":
            outcome.busy.append(plan.key)
        else:
            todo.append(plan)
    if not todo:
        return outcome

    scheduler = Scheduler(
        store,
        executor_factory,
        study_name=spec.name,
        role="runner",
        retry=("failed",) if retry_failed else (),
    )
    scheduler.open()  # a bad executor setting fails here, before the progress display starts
    progress.start(total=len(plans), finished=len(outcome.skipped), active_plans=todo)
    scheduler.enqueue(todo)
    unrecorded: list[RunKey] = []
    try:
        while scheduler.has_work:
            submitted = scheduler.submit()
            outcome.busy.extend(plan.key for plan in submitted.busy)
            for plan in submitted.started:
                progress.started(plan)
            for plan, record in scheduler.collect(poll_interval):
                if record is not None:
                    outcome.executed.append(record)
                else:
                    unrecorded.append(plan.key)
                progress.finished(plan, record)
                if record is not None and reported_one_metric_twice(record):
                    # its variant's every run would fail the same way: stop before spending them
                    raise UserError(two_sources_message(record, len(plans)))
                if record is not None and not metric_arrived:
                    if missed_the_study_metric(record):
                        # every other run would fail the same way: stop before spending them
                        raise UserError(misspelt_metric_message(spec.metric, record, len(plans)))
                    metric_arrived = record.status == "done"
            progress.tick()
    except BaseException:
        scheduler.abandon()
        raise
    finally:
        progress.stop()
        scheduler.close()
    if unrecorded and (full := store.out_of_space()) is not None:
        shown = ", ".join(str(key) for key in unrecorded[:5])
        more = f" and {len(unrecorded) - 5} more" if len(unrecorded) > 5 else ""
        raise UserError(
            f"{os_error_message(full)}; {len(unrecorded)} run(s) could not be recorded "
            f"({shown}{more}): run again to resume once there is space (finished runs are kept)"
        )
    return outcome


def two_sources_message(record: RunRecord, planned: int) -> str:
    """Why a study stopped after a run whose metrics came from two sources at once.

    Args:
        record: the run's record (failed: its error names the metric and both sources).
        planned: how many runs the study has.

    Returns:
        One message: the run, its error, and how to resume.
    """
    return (
        f"{record.variant}-s{record.seed}: {record.error} The study stopped rather than fail "
        f"its {planned} runs the same way; fix the metrics table and run again with "
        "--retry-failed: finished runs are kept."
    )


def misspelt_metric_message(metric: str, record: RunRecord, planned: int) -> str:
    """Why a study stopped after its first finished run: the study metric never arrived.

    Args:
        metric: the study's metric.
        record: the first finished run's record (failed: the metric never arrived).
        planned: how many runs the study has.

    Returns:
        One message: the run, the metrics that did arrive, the closest name, and how to resume.
    """
    reported = sorted(record.final_metrics)
    shown = ", ".join(reported[:20]) + (" ..." if len(reported) > 20 else "") or "nothing"
    suggestion = closest(metric, reported)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    return (
        f"the first finished run ({record.variant}-s{record.seed}) never reported the study "
        f"metric '{metric}'; it reported: {shown}{hint}. The study stopped rather than fail "
        f"its {planned} runs the same way. Fix the metric's name ([study] metric, or the "
        "metrics table) and run again with --retry-failed: finished runs are kept."
    )
