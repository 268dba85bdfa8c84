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
from typing import Any

from harness.errors import UserError
from harness.executors import Executor, RunPlan
from harness.processes import interrupts_deferred
from harness.run.wandb_log import resolve_mode
from harness.store import FileSystemStore, RunConfigFile, RunKey
from harness.store.filesystem import claim_owner
from harness.store.records import RunRecord
from harness.study.spec import StudySpec


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


class ProgressSink:
    """What the runner tells a progress display. The default shows nothing."""

    def start(self, *, total: int, finished: int, active_plans: list[RunPlan]) -> None: ...
    def started(self, plan: RunPlan) -> None: ...
    def tick(self) -> None: ...
    def finished(self, plan: RunPlan, record: RunRecord | None) -> None: ...
    def stop(self) -> None: ...


def study_dir_for(spec: StudySpec, runs_root: Path) -> Path:
    return runs_root / spec.name


def plan_runs(
    spec: StudySpec, store: FileSystemStore, *, wandb: Mapping[str, Any] | None = None
) -> list[RunPlan]:
    """Every (variant, seed) run of the study, variants in file order, seeds interleaved.

    Runs are ordered seed-major (all variants of seed 0, then of seed 1 ...), so an
    interrupted study has complete pairs to compare as early as possible.
    """
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


def wandb_settings(spec: StudySpec, *, disabled: bool = False) -> dict[str, Any]:
    """The wandb settings handed to workers, with the mode resolved once here."""
    mode = resolve_mode(spec.wandb.mode, enabled=spec.wandb.enabled and not disabled)
    return {"mode": mode, "project": spec.wandb.project or spec.name, "entity": spec.wandb.entity}


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
        changed = _changed_keys(stored.config, plan.config)
        conflicts.append(f"{plan.key}: {', '.join(changed[:5]) or 'config'} changed")
    return conflicts


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
    progress = progress or ProgressSink()
    store = FileSystemStore(study_dir_for(spec, runs_root))
    if fresh:
        store.archive()
    plans = plan_runs(spec, store, wandb=wandb)
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
    store.write_study_meta({**spec.to_dict(), "updated_at": time.time()})

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

    executor = executor_factory()
    progress.start(total=len(plans), finished=len(outcome.skipped), active_plans=todo)
    in_flight: dict[RunKey, RunPlan] = {}
    try:
        queue = list(todo)
        while queue or in_flight:
            while queue and len(in_flight) < executor.capacity:
                plan = queue.pop(0)
                with interrupts_deferred():  # a claim is either in flight or not taken
                    if not claim_run(store, plan, spec.name, retry_failed=retry_failed):
                        outcome.busy.append(plan.key)
                        continue
                    in_flight[plan.key] = plan
                    executor.submit(plan)
                progress.started(plan)
            for plan in executor.wait(poll_interval):
                with interrupts_deferred():
                    record = store.read_record(plan.key)
                    if record is None:  # the worker died before writing: leave it unfinished
                        store.release(plan.key)
                    else:
                        outcome.executed.append(record)
                    in_flight.pop(plan.key, None)
                progress.finished(plan, record)
            progress.tick()
    except BaseException:
        executor.cancel_all()
        for key in in_flight:
            if store.read_record(key) is None:
                store.release(key)
        raise
    finally:
        progress.stop()
        executor.close()
    return outcome


def claim_run(
    store: FileSystemStore, plan: RunPlan, study: str, *, retry_failed: bool, role: str = "runner"
) -> bool:
    """Claim an unfinished run (or a failed one, when retrying) and write its config.

    False when another live process holds the run, or it finished meanwhile.
    """
    if not store.try_claim(plan.key, claim_owner(role)):
        return False
    record = store.read_record(plan.key)
    retrying = retry_failed and record is not None and record.status == "failed"
    if record is not None and not retrying:  # finished by another process meanwhile
        store.release(plan.key)
        return False
    store.write_config(
        RunConfigFile(
            study=study,
            variant=plan.key.variant,
            seed=plan.key.seed,
            kind=plan.kind,
            config=plan.config,
            config_hash=plan.config_hash,
        )
    )
    return True


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    changed = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changed += _changed_keys(a, b, f"{path}.")
        elif a != b:
            changed.append(f"{path} ({a!r} -> {b!r})")
    return changed
