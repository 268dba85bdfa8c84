"""The search loop: every trial is a variant of ordinary harness runs, one per seed.

A trial asks Optuna for parameters, becomes the variant ``trial-NNNN`` (the searched variant
with the parameters merged in, validated like any study variant) and runs on the search seeds
through the worker machinery, so each run's record is atomic and a killed search leaves its
finished runs on disk. The seeds are the same for every trial (a paired design: trial
differences are not seed differences). While the runs train, the seed-mean of the study metric
at every step that all seeds have reported goes to ``trial.report`` and the pruner; a pruned
trial stops its runs. The objective is the mean over seeds of the final metric; the per-seed
values are kept as the trial's ``seed_values`` user attribute (and in the store).

Cooperation and crashes. Several ``harness tune`` processes may share one storage. Each
counts the trials (complete + pruned + running + queued) before asking for a new one, under a
file lock for the default file storages, and a trial whose number lands beyond the target is
dropped (marked FAIL, ``harness_outcome = "surplus"``) for storages without a shared lock, so
no process overshoots ``--trials``. Each running trial names its owner (host, pid) and keeps a
heartbeat; a RUNNING trial whose owner is gone (``kill -9``) is marked FAIL and its parameters
are enqueued again under the same variant name, so its finished runs are reused and only the
missing ones rerun.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.executors import Executor, RunPlan
from harness.run.runner import config_conflicts, plan_runs
from harness.run.scheduler import Scheduler
from harness.run.study_meta import study_meta
from harness.schema import to_mapping
from harness.store import (
    STALE_AFTER_S,
    FileSystemStore,
    RunKey,
    SearchMeta,
    claim_is_live,
    claim_owner,
)
from harness.store.layout import RunDir
from harness.store.metrics_file import read_metrics
from harness.study.search import SearchConfig
from harness.study.spec import StudySpec
from harness.study.sweep import sanitize_name
from harness.study.tables import changed_keys
from harness.tune.config import trial_variant
from harness.tune.storage import ask_lock, open_storage
from harness.tune.strategies import make_pruner, make_sampler, suggest

VARIANT_ATTR = "harness_variant"
OWNER_ATTR = "harness_owner"
HEARTBEAT_ATTR = "harness_heartbeat"
OUTCOME_ATTR = "harness_outcome"
RETRY_ATTR = "harness_retry_of"
SEED_VALUES_ATTR = "seed_values"
FINGERPRINT_ATTR = "harness_fingerprint"

HEARTBEAT_INTERVAL_S = 15.0
RECOVER_INTERVAL_S = 5.0
MAX_FAILED_IN_A_ROW = 3


def variant_name(trial_number: int, *, search_name: str | None = None) -> str:
    """The store variant of a trial: ``trial-0007`` for the study's own search, and
    ``<search_name>-trial-0007`` for a search named otherwise (``search.study_name``), because
    trial numbers restart at 0 in every Optuna study and one study folder may hold several.

    Args:
        trial_number: the Optuna trial number.
        search_name: the search's Optuna study name, when it is not the study's name.

    Returns:
        A variant name, safe as a directory name.
    """
    name = f"trial-{trial_number:04d}"
    return f"{sanitize_name(search_name)}-{name}" if search_name else name


def trial_variant_of(trial: Any) -> str:
    """The store variant holding a (live or frozen) trial's runs."""
    return str(trial.user_attrs.get(VARIANT_ATTR, variant_name(trial.number)))


def fingerprint(spec: StudySpec, search: SearchConfig) -> dict[str, Any]:
    """What makes trial values comparable: a search that changes any of it is a new search."""
    variant = spec.variant(search.variant)
    return json.loads(
        json.dumps(
            {
                "metric": spec.metric,
                "direction": spec.direction,
                "seeds": list(search.seeds),
                "variant_config": variant.config,
                "space": {name: to_mapping(param) for name, param in search.space.items()},
            }
        )
    )


def open_study(spec: StudySpec, search: SearchConfig, study_dir: Path) -> Any:
    """Create or load the Optuna study, refusing one started with a different search."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=open_storage(search.storage, study_dir),
        study_name=search.study_name,
        direction=optuna.study.StudyDirection[spec.direction.name],
        sampler=make_sampler(search, 0),
        pruner=make_pruner(search.pruner),
        load_if_exists=True,
    )
    current = fingerprint(spec, search)
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, current)
    elif stored != current:
        changed = ", ".join(changed_keys(stored, current)[:6])
        raise UserError(
            f"the Optuna study '{search.study_name}' was searched with a different setup "
            f"({changed}); its trials would not be comparable. Undo the change, set "
            "search.study_name to start a new search, or pass --fresh (the study directory "
            "is moved aside, not deleted)."
        )
    return study


@dataclass
class ActiveTrial:
    """A trial this process is running: its live Optuna trial and its runs."""

    trial: Any
    variant: str
    plans: list[RunPlan]
    waiting_on: set[RunKey] = field(default_factory=set)  # runs another process is running
    reported_step: int | None = None
    stopping: bool = False


class Search:
    """Runs trials until the study holds ``target`` complete + pruned trials.

    Args:
        spec: the study.
        search: its ``[search]`` table.
        study_dir: the study directory (runs under ``runs/``, storage under ``tune/``).
        target: trials in all (complete + pruned), across every cooperating process.
        executor_factory: builds the executor (``cancel(plan)`` stops a pruned trial's runs).
        wandb: wandb settings handed to workers.
        say: prints one progress line.
        poll_interval: seconds between looks at the runs.
    """

    def __init__(
        self,
        spec: StudySpec,
        search: SearchConfig,
        *,
        study_dir: Path,
        target: int,
        executor_factory: Callable[[], Executor],
        wandb: dict[str, Any] | None = None,
        say: Callable[[str], None] = print,
        poll_interval: float = 0.5,
    ) -> None:
        self.spec = spec
        self.search = search
        self.study_dir = study_dir
        self.target = target
        self.wandb = wandb or {}
        self.say = say
        self.poll_interval = poll_interval
        self.store = FileSystemStore(study_dir)
        self.store.refuse_if_imported("run a search into it")
        # A retried trial reruns its failed runs (a diverged run prunes the trial instead).
        self.scheduler = Scheduler(
            self.store, executor_factory, study_name=spec.name, role="tune", retry=("failed",)
        )
        self.study: Any = None
        self.active: dict[int, ActiveTrial] = {}
        self.failed_in_a_row = 0
        self.trials_run = 0

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> Any:
        """Search until the target is reached and no trial is left running; return the study."""
        from optuna.trial import TrialState

        self.study = open_study(self.spec, self.search, self.study_dir)
        search_meta = SearchMeta(study_name=self.search.study_name, storage=self.search.storage)
        self.store.write_study_meta(study_meta(self.spec, search=search_meta))
        self.recover_stale()
        last_recover = last_beat = time.monotonic()
        try:
            while True:
                self._start_trials()
                self._submit()
                self._collect()
                for number in list(self.active):
                    self._follow(self.active[number])
                now = time.monotonic()
                if now - last_beat > HEARTBEAT_INTERVAL_S:
                    self._heartbeat()
                    last_beat = now
                if self.active:
                    continue
                if now - last_recover > RECOVER_INTERVAL_S:
                    self.recover_stale()
                    last_recover = now
                if self._room_for_trials():
                    continue
                states = [t.state for t in self.study.get_trials(deepcopy=False)]
                if TrialState.RUNNING not in states and TrialState.WAITING not in states:
                    return self.study
                time.sleep(self.poll_interval)  # another process still runs trials: wait
        except BaseException:
            self._abandon()
            raise
        finally:
            self.scheduler.close()

    def _room_for_trials(self) -> bool:
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials):
            return True
        counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        return sum(t.state in counted for t in trials) < self.target

    def _start_trials(self) -> None:
        while not self.scheduler.queued and self.scheduler.has_room:
            trial = self._ask()
            if trial is None:
                return
            self._start(trial)

    def _ask(self) -> Any:
        """A new trial, or None when the target is reached (counting other processes' trials)."""
        from optuna.trial import TrialState

        with ask_lock(self.search.storage, self.study_dir):
            if not self._room_for_trials():
                return None
            trial = self.study.ask()
            trial.set_user_attr(OWNER_ATTR, claim_owner("tune"))
            trial.set_user_attr(HEARTBEAT_ATTR, time.time())
        # Without a shared lock two processes may both ask for the last trial: trial numbers
        # are unique, so the later one gives way.
        live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
        earlier = sum(
            t.number < trial.number and t.state in live
            for t in self.study.get_trials(deepcopy=False)
        )
        if earlier >= self.target:
            trial.set_user_attr(OUTCOME_ATTR, "surplus")
            self.study.tell(trial, state=TrialState.FAIL)
            return None
        return trial

    def _start(self, trial: Any) -> None:
        self.study.sampler = make_sampler(self.search, trial.number)
        params = {name: suggest(trial, name, p) for name, p in self.search.space.items()}
        own_search = self.search.study_name == self.spec.name
        variant = trial.user_attrs.get(VARIANT_ATTR) or variant_name(
            trial.number, search_name=None if own_search else self.search.study_name
        )
        trial.set_user_attr(VARIANT_ATTR, variant)
        trial_spec = self._trial_spec(variant, params)
        plans = plan_runs(trial_spec, self.store, wandb=self.wandb)
        self._refuse_foreign_runs(trial, plans)
        active = ActiveTrial(trial=trial, variant=variant, plans=plans)
        self.active[trial.number] = active
        retry = trial.user_attrs.get(RETRY_ATTR)
        again = f" (retrying trial {retry})" if retry is not None else ""
        self.say(f"trial {trial.number} started{again}: {_format_params(params)}")
        for plan in active.plans:
            status = self.store.status(plan.key)
            if status in ("done", "diverged"):
                continue  # finished by an earlier attempt of this trial
            if status == "running":
                active.waiting_on.add(plan.key)
            else:
                self.scheduler.enqueue([plan])
        self.trials_run += 1

    def _refuse_foreign_runs(self, trial: Any, plans: list[RunPlan]) -> None:
        """A finished run is this trial's only when its whole config is the trial's: one left
        by another search under the same name (a storage deleted or replaced) is never taken
        as this trial's result. The trial is failed and the search stops, naming the runs.
        """
        from optuna.trial import TrialState

        conflicts = config_conflicts(self.store, plans, retry_failed=True)
        if not conflicts:
            return
        trial.set_user_attr(OUTCOME_ATTR, "conflict")
        self.study.tell(trial, state=TrialState.FAIL)
        raise UserError(
            f"trial {trial.number} would reuse the finished runs of another search in "
            f"{plans[0].run_dir.parent} ({conflicts[0]}). Set search.study_name to a new "
            "name, or pass --fresh (the study directory is moved aside, not deleted)."
        )

    def _trial_spec(self, variant: str, params: dict[str, Any]) -> StudySpec:
        import dataclasses

        resolved = trial_variant(self.spec, self.search, variant, params)
        return dataclasses.replace(
            self.spec, seeds=self.search.seeds, variants=(resolved,), baseline=variant
        )

    def _submit(self) -> None:
        for plan in self.scheduler.submit().busy:  # another process runs it: follow its record
            active = self._trial_of(plan)
            if active is not None:
                active.waiting_on.add(plan.key)

    def _collect(self) -> None:
        for plan, record in self.scheduler.collect(self.poll_interval):
            if record is not None:
                continue
            # Its claim is released: it was stopped (pruned), or its worker was killed.
            active = self._trial_of(plan)
            if active is not None and not active.stopping:
                self._fail(
                    active,
                    f"the worker of {plan.key} ended without a record; see "
                    f"{plan.run_dir}/worker.log",
                )

    def _trial_of(self, plan: RunPlan) -> ActiveTrial | None:
        return next((a for a in self.active.values() if plan in a.plans), None)

    # -- one trial --------------------------------------------------------------------------
    def _follow(self, active: ActiveTrial) -> None:
        """Report new seed-mean points, prune, and finish the trial once its runs are done."""
        from optuna.trial import TrialState

        # A run that is queued or running here has no record yet, whatever an earlier,
        # failed attempt left (a retried trial reruns its failed runs).
        in_flight = {p.key for p in self.scheduler.in_flight}
        pending = in_flight | {p.key for p in self.scheduler.queued}
        records = {
            p.key: None if p.key in pending else self.store.read_record(p.key) for p in active.plans
        }
        self._adopt_abandoned(active, records)
        if active.stopping:
            if not any(p.key in in_flight for p in active.plans):
                del self.active[active.trial.number]
            return
        bad = [r for r in records.values() if r is not None and r.status != "done"]
        if bad:
            self._finish_bad(active, bad[0])
            return
        if all(r is not None for r in records.values()):
            self._finish(active, records)
            return
        if self._report(active) and active.trial.should_prune():
            step = active.reported_step
            active.trial.set_user_attr(OUTCOME_ATTR, "pruned")
            self._stop(active)
            self._tell(active, state=TrialState.PRUNED)
            self.failed_in_a_row = 0
            self.say(f"trial {active.trial.number} pruned at step {step}")

    def _report(self, active: ActiveTrial) -> bool:
        """Report the seed-mean metric at the new steps every seed has reached."""
        curves = [self._curve(plan) for plan in active.plans]
        common = set.intersection(*(set(c) for c in curves)) if curves else set()
        new = sorted(s for s in common if active.reported_step is None or s > active.reported_step)
        for step in new:
            mean = sum(c[step] for c in curves) / len(curves)
            if math.isfinite(mean):
                active.trial.report(mean, step)
            active.reported_step = step
        return bool(new)

    def _curve(self, plan: RunPlan) -> dict[int, float]:
        metric = self.spec.metric
        curve: dict[int, float] = {}
        for row in read_metrics(RunDir(plan.run_dir).metrics):
            step, value = row.get("step"), row.get(metric)
            if isinstance(step, int | float) and isinstance(value, int | float):
                curve[int(step)] = float(value)
        return curve

    def _finish(self, active: ActiveTrial, records: dict[RunKey, Any]) -> None:

        metric = self.spec.metric
        missing = [str(k) for k, r in records.items() if metric not in r.final_metrics]
        if missing:
            self._fail(active, f"no '{metric}' reported by {', '.join(missing)}")
            return
        values = {str(k.seed): r.final_metrics[metric] for k, r in records.items()}
        self._report(active)
        mean = sum(values.values()) / len(values)
        active.trial.set_user_attr(SEED_VALUES_ATTR, values)
        self._tell(active, values=mean)
        del self.active[active.trial.number]
        self.failed_in_a_row = 0
        shown = ", ".join(f"s{seed} {v:.4g}" for seed, v in values.items())
        self.say(f"trial {active.trial.number} complete: {metric} {mean:.4g} ({shown})")

    def _finish_bad(self, active: ActiveTrial, record: Any) -> None:
        """A diverged run prunes the trial (a useful signal to TPE); a failed one fails it."""
        from optuna.trial import TrialState

        if record.status == "diverged":
            active.trial.set_user_attr(OUTCOME_ATTR, "diverged")
            active.trial.set_user_attr("error", f"s{record.seed}: {record.error}")
            self._stop(active)
            self._tell(active, state=TrialState.PRUNED)
            self.failed_in_a_row = 0
            self.say(f"trial {active.trial.number} diverged (s{record.seed}): {record.error}")
            return
        run_dir = self.store.run_dir(RunKey(variant=record.variant, seed=record.seed))
        self._fail(active, f"s{record.seed} failed: {record.error}; see {run_dir}/output.log")

    def _fail(self, active: ActiveTrial, message: str) -> None:
        from optuna.trial import TrialState

        active.trial.set_user_attr(OUTCOME_ATTR, "failed")
        active.trial.set_user_attr("error", message)
        self._stop(active)
        self._tell(active, state=TrialState.FAIL)
        self.say(f"trial {active.trial.number} failed: {message}")
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            raise UserError(
                f"{self.failed_in_a_row} trials failed in a row; the last: {message}. "
                "Fix the study and run again: finished trials are kept."
            )

    def _tell(self, active: ActiveTrial, **outcome: Any) -> None:
        """Finish the trial in the storage, unless another process took it over meanwhile
        (it found this process's heartbeat too old and requeued the trial)."""
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            self.study.tell(active.trial, **outcome)
        except (UpdateFinishedTrialError, ValueError, RuntimeError) as error:
            self.say(f"trial {active.trial.number} was finished elsewhere: {error}")

    def _stop(self, active: ActiveTrial) -> None:
        """Stop the trial's runs; it leaves ``self.active`` once its workers have ended."""
        active.stopping = True
        for plan in active.plans:
            self.scheduler.cancel(plan)

    def _adopt_abandoned(self, active: ActiveTrial, records: dict[RunKey, Any]) -> None:
        """Take over a run another process was running when that process died."""
        for key in list(active.waiting_on):
            if records.get(key) is not None:
                active.waiting_on.discard(key)
            elif self.store.status(key) == "pending":  # claimed when submitted, or busy again
                active.waiting_on.discard(key)
                self.scheduler.enqueue(p for p in active.plans if p.key == key)

    # -- crashes and cooperation ------------------------------------------------------------
    def recover_stale(self) -> list[int]:
        """Fail RUNNING trials whose owner is gone and enqueue their parameters again."""
        from optuna.trial import TrialState

        recovered = []
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if _is_stale(trial) and self._requeue(trial):
                recovered.append(trial.number)
                self.say(f"trial {trial.number} was left running by a dead process: queued again")
        return recovered

    def _requeue(self, trial: Any) -> bool:
        """Mark a running trial FAIL and enqueue its parameters under the same variant.

        Returns False when another process finished or requeued it first: only the process
        whose FAIL lands enqueues, so a trial is never queued twice.
        """
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        try:
            self.study.tell(trial.number, state=TrialState.FAIL)
        except (UpdateFinishedTrialError, ValueError, RuntimeError):
            return False
        self.study.enqueue_trial(
            dict(trial.params),
            user_attrs={VARIANT_ATTR: trial_variant_of(trial), RETRY_ATTR: trial.number},
        )
        return True

    def _heartbeat(self) -> None:
        now = time.time()
        for active in self.active.values():
            if not active.stopping:
                active.trial.set_user_attr(HEARTBEAT_ATTR, now)

    def _abandon(self) -> None:
        """On Ctrl-C or an error: stop our runs and hand our trials back to the queue."""
        self.scheduler.abandon()
        for active in self.active.values():
            if not active.stopping:
                with contextlib.suppress(Exception):  # else the next run recovers it as stale
                    self._requeue(active.trial)


def _is_stale(trial: Any) -> bool:
    owner = trial.user_attrs.get(OWNER_ATTR)
    if not isinstance(owner, dict):  # died between ask and naming its owner
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > STALE_AFTER_S
    if owner.get("host") == socket.gethostname():
        return not claim_is_live(owner, Path("/nonexistent"))
    heartbeat = trial.user_attrs.get(HEARTBEAT_ATTR, 0.0)
    return time.time() - float(heartbeat) > STALE_AFTER_S


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
