"""Reading every run of a source, with a progress bar; a run that cannot be read is named and
skipped, the rest read. A run an earlier import holds unchanged (same fingerprint) is not read
again: its stored copy stands in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.importers._base import LogSource, RunRef, RunUnreadable, SourceRun


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
    for ref in refs:
        fingerprint = f"{ref.fingerprint}|{options}" if ref.fingerprint else ""
        stored = known.get(ref.run_id)
        if fingerprint and stored is not None and stored.fingerprint == fingerprint:
            runs.append(stored)
            if advance is not None:
                advance()
            continue
        try:
            run = source.read_run(ref)
            runs.append(dataclasses.replace(run, run_id=ref.run_id, fingerprint=fingerprint))
        except RunUnreadable as error:
            unreadable.append(Unreadable(label=ref.label, reason=str(error)))
        except (OSError, ValueError, KeyError, TypeError) as error:
            # a reader library's surprise on one damaged run must not stop the others
            unreadable.append(
                Unreadable(label=ref.label, reason=f"{type(error).__name__}: {error}")
            )
        if advance is not None:
            advance()
    return runs, unreadable
