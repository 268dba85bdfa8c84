"""The one scheduling loop: claim a run, hand it to an executor, collect it, never lose a claim.

The study runner, ``harness tune`` and ``harness bisect`` all schedule runs through a
:class:`Scheduler`. A run goes through three places::

    queued  --submit()-->  in flight  --collect()-->  ended (record, or claim released)

A queued run is not claimed yet: it is claimed when a slot frees up, so several processes
running one study share its runs instead of one process claiming them all up front. Claiming
writes the run's ``config.json``; a run another live process holds, or one that finished
meanwhile, is handed back as busy. A run that ends without a record (its worker was killed,
or it was cancelled) has its claim released, so the next invocation runs it again; a run
with a record keeps it (a record is written atomically, so a finished run is never lost).
On Ctrl-C, SIGTERM or an error the caller calls :meth:`Scheduler.abandon`, which stops every
worker and releases every claim that has no record.

Each claim carries the token this scheduler drew for it (``harness.store.claims``): a claim
is released only while it still carries that token, and the command of a run whose worker
died without a record (``kill -9``) has its whole process group ended first, so that nothing
of the attempt goes on writing into the run directory the next attempt uses.

The steps that move a run between places run with Ctrl-C held back
(:func:`harness.processes.interrupts_deferred`): a run is either in flight with its claim
taken, or not claimed at all, so no claim is ever left behind for nobody to release.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from harness.executors import Executor, RunPlan
from harness.processes import interrupts_deferred
from harness.store import RunConfigFile, RunKey, Store, claim_owner
from harness.store.records import RunRecord


@dataclass(frozen=True, kw_only=True)
class Submitted:
    """What one :meth:`Scheduler.submit` did.

    Attributes:
        started: runs claimed and handed to the executor, in queue order.
        busy: runs not started: another live process holds them, or they finished meanwhile.
    """

    started: list[RunPlan] = field(default_factory=list)
    busy: list[RunPlan] = field(default_factory=list)


class Scheduler:
    """Runs planned runs of one study directory through an executor.

    Args:
        store: the study's store; claims, configs and records go through it.
        executor_factory: builds the executor, on first use (a study with nothing left to
            run starts no executor).
        study_name: the study name written into each run's ``config.json``.
        role: names this process in its claims ("runner", "tune", "bisect").
        retry: statuses of finished runs that are run again (e.g. ``("failed",)`` for
            ``--retry-failed``); a run finished with any other status is never claimed.
    """

    def __init__(
        self,
        store: Store,
        executor_factory: Callable[[], Executor],
        *,
        study_name: str,
        role: str,
        retry: Collection[str] = (),
    ) -> None:
        self.store = store
        self.study_name = study_name
        self.role = role
        self.retry = frozenset(retry)
        self._executor_factory = executor_factory
        self._executor: Executor | None = None
        self._queue: list[RunPlan] = []
        self._in_flight: dict[RunKey, RunPlan] = {}
        self._tokens: dict[RunKey, str] = {}  # the token of each claim this scheduler holds

    # -- what is where ----------------------------------------------------------------------
    @property
    def queued(self) -> tuple[RunPlan, ...]:
        """Runs waiting for a slot (not claimed yet), in order."""
        return tuple(self._queue)

    @property
    def in_flight(self) -> tuple[RunPlan, ...]:
        """Runs claimed and handed to the executor whose end has not been collected."""
        return tuple(self._in_flight.values())

    @property
    def has_work(self) -> bool:
        """Whether a run is queued or in flight."""
        return bool(self._queue or self._in_flight)

    @property
    def has_room(self) -> bool:
        """Whether the executor could take another run now (starts the executor)."""
        return len(self._in_flight) < self.open().capacity

    def open(self) -> Executor:
        """The executor, built now if it was not yet (a bad executor setting fails here)."""
        if self._executor is None:
            self._executor = self._executor_factory()
        return self._executor

    # -- the loop ---------------------------------------------------------------------------
    def enqueue(self, plans: Iterable[RunPlan]) -> None:
        """Queue runs; they are claimed and started by :meth:`submit` as slots free up."""
        self._queue.extend(plans)

    def submit(self) -> Submitted:
        """Claim queued runs and hand them to the executor until it is at capacity.

        Returns:
            The runs started, and the queued runs found busy (dropped from the queue).
        """
        executor = self.open()
        submitted = Submitted()
        while self._queue and len(self._in_flight) < executor.capacity:
            plan = self._queue.pop(0)
            with interrupts_deferred():  # a claim is either in flight or not taken
                if not self._claim(plan):
                    submitted.busy.append(plan)
                    continue
                self._in_flight[plan.key] = plan
                executor.submit(plan)
            submitted.started.append(plan)
        return submitted

    def collect(self, timeout: float) -> list[tuple[RunPlan, RunRecord | None]]:
        """Wait up to ``timeout`` seconds for runs to end.

        Returns:
            Each run that ended, with its record, or None when it left none (its worker died
            or it was cancelled): its claim is released, so it counts as unfinished.
        """
        ended: list[tuple[RunPlan, RunRecord | None]] = []
        for plan in self.open().wait(timeout):
            with interrupts_deferred():  # a run is either in flight or accounted for
                record = self.store.read_record(plan.key)
                if record is None:
                    self._let_go(plan.key)
                self._in_flight.pop(plan.key, None)
                self._tokens.pop(plan.key, None)
            ended.append((plan, record))
        return ended

    def cancel(self, plan: RunPlan) -> None:
        """Stop one run (a pruned trial's): a queued run leaves the queue, a run in flight
        has its worker stopped and comes back from :meth:`collect` (without a record, unless
        it finished first). Executors that cannot stop a single run let it finish."""
        if plan in self._queue:
            self._queue.remove(plan)
        elif plan.key in self._in_flight and self._executor is not None:
            self._executor.cancel(self._in_flight[plan.key])

    def abandon(self) -> None:
        """On Ctrl-C or an error: drop the queue, stop every worker, release every claim
        whose run has no record (the next invocation runs it again)."""
        self._queue.clear()
        with interrupts_deferred():  # a second Ctrl-C or SIGTERM must not leave claims behind
            if self._executor is not None:
                self._executor.cancel_all()
            for key in list(self._in_flight):
                if self.store.read_record(key) is None:
                    self._let_go(key)
                del self._in_flight[key]
                self._tokens.pop(key, None)

    def close(self) -> None:
        """Release the executor's resources (clusters, pools), if one was started."""
        if self._executor is not None:
            self._executor.close()

    # -- claims -----------------------------------------------------------------------------
    def _let_go(self, key: RunKey) -> None:
        """A run ended (or was abandoned) without a record: end what its command left running
        and release its claim, both only while the claim is still the one this scheduler took."""
        token = self._tokens.get(key)
        if token is not None:
            self.store.end_abandoned_command(key, token)
        self.store.release(key, token)

    def _claim(self, plan: RunPlan) -> bool:
        """Claim an unfinished run (or one finished with a status in ``retry``) and write its
        config. False when another live process holds it, or it finished meanwhile."""
        owner = claim_owner(self.role)
        if not self.store.try_claim(plan.key, owner):
            return False
        self._tokens[plan.key] = owner["token"]
        record = self.store.read_record(plan.key)
        if record is not None and record.status not in self.retry:
            self._let_go(plan.key)  # finished by another process meanwhile
            self._tokens.pop(plan.key, None)
            return False
        self.store.write_config(
            RunConfigFile(
                study=self.study_name,
                variant=plan.key.variant,
                seed=plan.key.seed,
                kind=plan.kind,
                config=plan.config,
                config_hash=plan.config_hash,
            )
        )
        return True
