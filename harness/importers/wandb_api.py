"""A wandb project online, through the public ``wandb.Api``.

Only the fetching differs from :mod:`~harness.importers.wandb_local`: each run's config,
state and full history (``Run.scan_history``) end in the same :class:`SourceRun`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.importers._base import (
    ImportFailure,
    LogSource,
    RunRef,
    RunState,
    RunUnreadable,
    SourceRun,
    curve_from_rows,
)

# wandb's run states: finished, crashed, failed, killed, running, preempted ...
_STATES: dict[str, RunState] = {
    "finished": "finished",
    "crashed": "crashed",
    "failed": "crashed",
    "killed": "crashed",
    "preempted": "crashed",
}
HISTORY_PAGE_SIZE = 5000


class WandbApiSource(LogSource):
    """The runs of ``entity/project`` (or ``project``, with the default entity).

    Args:
        location: ``entity/project``.
        group: only runs of this group.
        tags: only runs with one of these tags.
        state: only runs in this wandb state (``finished``, ``crashed`` ...).
        api: the ``wandb.Api`` to use (a test's stand-in); by default a new one, which reads
            the API key wandb itself would (``WANDB_API_KEY``, ``~/.netrc``).
    """

    kind = "wandb-api"

    def __init__(
        self,
        location: str,
        *,
        group: str | None = None,
        tags: Sequence[str] = (),
        state: str | None = None,
        api: Any = None,
    ) -> None:
        super().__init__(location)
        self.filters = run_filters(group=group, tags=tags, state=state)
        self._api = api

    def find_runs(self) -> Sequence[RunRef]:
        api = self._api if self._api is not None else _default_api()
        try:
            runs = list(api.runs(self.location, filters=self.filters or None))
        except Exception as error:  # wandb's own (CommError, ValueError for a bad path)
            raise ImportFailure(
                f"wandb project {self.location}: cannot list its runs: {error}"
            ) from None
        if not runs:
            shown = f" matching {self.filters}" if self.filters else ""
            raise ImportFailure(f"wandb project {self.location}: no runs{shown}")
        return [
            RunRef(
                label=f"{run.name} ({run.id})",
                run_id=str(run.id),
                fingerprint=_fingerprint(run),
                handle=run,
            )
            for run in runs
        ]

    def read_run(self, ref: RunRef) -> SourceRun:
        run = ref.handle
        try:
            rows = [_history_row(row) for row in run.scan_history(page_size=HISTORY_PAGE_SIZE)]
            config = _plain(dict(run.config))
            summary = dict(run.summary) if run.summary is not None else {}
        except Exception as error:  # network and API errors of one run
            raise RunUnreadable(f"wandb cannot fetch its history: {error}") from None
        curve = curve_from_rows([row for row in rows if row])
        logged = set(curve.columns)
        final = {
            key: float(value)
            for key, value in summary.items()
            if not key.startswith("_")
            and key not in logged
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        }
        return SourceRun(
            run_id=str(run.id),
            name=str(run.name),
            location=f"wandb:{self.location}/{run.id}",
            config=config,
            state=_STATES.get(str(run.state), "running"),
            curve=curve,
            final=final,
        )


def _fingerprint(run: Any) -> str:
    """State, last step and run time (from the run's summary, listed with the run)."""
    try:
        summary = dict(run.summary) if run.summary is not None else {}
    except Exception:  # a summary the API cannot give: read the run again next time
        return ""
    return f"{run.state}:{summary.get('_step')}:{summary.get('_runtime')}"


def run_filters(
    *, group: str | None = None, tags: Sequence[str] = (), state: str | None = None
) -> dict[str, Any]:
    """The MongoDB-style filters ``wandb.Api().runs`` takes for a group, tags and a state."""
    filters: dict[str, Any] = {}
    if group:
        filters["group"] = group
    if tags:
        filters["tags"] = {"$in": list(tags)}
    if state:
        filters["state"] = state
    return filters


def _default_api() -> Any:
    try:
        import wandb
    except ImportError:
        raise ImportFailure("reading a wandb project needs wandb: pip install wandb") from None
    make: Callable[[], Any] = wandb.Api
    try:
        return make()
    except Exception as error:  # no API key, no network
        raise ImportFailure(f"wandb.Api() failed: {error}") from None


def _history_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A history row: ``_step`` as ``step``, wandb's other ``_`` keys dropped."""
    step = row.get("_step")
    values = {k: v for k, v in row.items() if not k.startswith("_")}
    return {"step": step, **values} if step is not None and values else {}


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's config without wandb's own keys; values the API wraps as ``{"value": v}``
    (older servers) unwrapped."""
    plain: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):
            continue
        if isinstance(value, Mapping) and set(value) <= {"value", "desc"} and "value" in value:
            value = value["value"]
        plain[key] = value
    return plain
