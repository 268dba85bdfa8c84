"""Reading every run of a source, with a progress bar; a run that cannot be read is named and
skipped, the rest read. A run an earlier import holds unchanged (same fingerprint) is not read
again: its stored copy stands in.

A source whose runs are local files (:attr:`LogSource.reads_in_processes`) reads a large pile
of them in one process per CPU: reading a run is Python work (decoding its log), so a second
core halves the time of a 500-run import. Each process pays for its own start (importing
polars and the reader, about a second), so a few dozen runs are read in this process.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from harness.importers._base import LogSource, RunRef, RunUnreadable, SourceRun

# Fewer runs than this to read are read in this process (see the module docstring)
PROCESS_POOL_MIN_RUNS = 40
# Runs handed to a process at a time: fewer round trips, still an even share at the end
RUNS_PER_TASK = 4


@dataclass(frozen=True, kw_only=True)
class Unreadable:
    """A run the source lists but cannot read."""

    label: str
    reason: str


def read_runs(
    source: LogSource,
    refs: Sequence[RunRef],
    *,
    known: Mapping[str, SourceRun] | None = None,
    options: str = "",
    advance: Callable[[], None] | None = None,
) -> tuple[list[SourceRun], list[Unreadable]]:
    """Read each run of ``refs``, or take its stored copy when it has not changed.

    Args:
        source: the log source.
        refs: its runs (:meth:`LogSource.find_runs`).
        known: the runs an earlier import stored, by run id, with their fingerprints.
        options: the import options that change what is stored of a run (``--rename``): part
            of each run's fingerprint, so changing them reads every run again.
        advance: called once per run (a progress bar's step).

    Returns:
        The runs read, and those that could not be, with why.
    """
    runs: list[SourceRun] = []
    unreadable: list[Unreadable] = []
    known = known or {}
    to_read: list[tuple[RunRef, str]] = []
    order: list[SourceRun | None] = []  # a stored copy, or None for the next run read
    for ref in refs:
        fingerprint = f"{ref.fingerprint}|{options}" if ref.fingerprint else ""
        stored = known.get(ref.run_id)
        if fingerprint and stored is not None and stored.fingerprint == fingerprint:
            order.append(stored)
            if advance is not None:
                advance()
        else:
            to_read.append((ref, fingerprint))
            order.append(None)
    outcomes = zip(to_read, _read_each(source, [ref for ref, _ in to_read], advance), strict=True)
    for stored in order:
        if stored is not None:
            runs.append(stored)
            continue
        (ref, fingerprint), outcome = next(outcomes)
        if isinstance(outcome, SourceRun):
            runs.append(dataclasses.replace(outcome, run_id=ref.run_id, fingerprint=fingerprint))
        else:
            unreadable.append(Unreadable(label=ref.label, reason=outcome))
    return runs, unreadable


def _read_each(
    source: LogSource, refs: Sequence[RunRef], advance: Callable[[], None] | None
) -> Iterator[SourceRun | str]:
    """Each run read, or why it could not be, in the order given."""
    workers = _processes()
    done = 0
    if source.reads_in_processes and workers > 1 and len(refs) >= PROCESS_POOL_MIN_RUNS:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # spawn: a fresh interpreter (forking a process that runs polars' threads can hang)
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for outcome in pool.map(
                    _read_one, [source] * len(refs), refs, chunksize=RUNS_PER_TASK
                ):
                    if advance is not None:
                        advance()
                    done += 1
                    yield outcome
            return
        except BrokenProcessPool:
            pass  # a reading process died (out of memory ...): the rest are read here
    for ref in refs[done:]:
        outcome = _read_one(source, ref)
        if advance is not None:
            advance()
        yield outcome


def _read_one(source: LogSource, ref: RunRef) -> SourceRun | str:
    """One run, or why it cannot be read."""
    try:
        return source.read_run(ref)
    except RunUnreadable as error:
        return str(error)
    except (OSError, ValueError, KeyError, TypeError) as error:
        # a reader library's surprise on one damaged run must not stop the others
        return f"{type(error).__name__}: {error}"


def _processes() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
