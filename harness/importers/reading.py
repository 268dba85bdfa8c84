"""Reading every run of a source, with a progress bar; a run that cannot be read is named and
skipped, the rest read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.importers._base import LogSource, RunRef, RunUnreadable, SourceRun


@dataclass(frozen=True, kw_only=True)
class Unreadable:
    """A run the source lists but cannot read."""

    label: str
    reason: str


def read_runs(
    source: LogSource, refs: Sequence[RunRef], *, advance: Callable[[], None] | None = None
) -> tuple[list[SourceRun], list[Unreadable]]:
    """Read each run of ``refs``.

    Args:
        source: the log source.
        refs: its runs (:meth:`LogSource.find_runs`).
        advance: called once per run read (a progress bar's step).

    Returns:
        The runs read, and those that could not be, with why.
    """
    runs: list[SourceRun] = []
    unreadable: list[Unreadable] = []
    for ref in refs:
        try:
            runs.append(source.read_run(ref))
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
