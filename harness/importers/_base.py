"""The interface every log source implements, and what it reads a run into."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import UserError

if TYPE_CHECKING:
    import polars as pl

RunState = Literal["finished", "crashed", "running"]


class ImportFailure(UserError):
    """The source as a whole cannot be read (not a log store, a missing reader package)."""


class RunUnreadable(Exception):
    """One run cannot be read; the message says why (the run is named by the caller)."""


@dataclass(frozen=True, kw_only=True)
class SourceRun:
    """One run as a log source holds it.

    Attributes:
        run_id: the run's id in its source (wandb id, MLflow run id, folder name ...): what a
            re-import recognises it by.
        name: the run's display name.
        location: where it lives (a path or URL), for messages and provenance.
        config: its config, nested as logged (``{"model": {"attn": "mha"}}``) or flat with
            dotted keys (``{"model.attn": "mha"}``); both are read the same.
        state: finished, crashed (failed, killed) or still running.
        curve: one row per logged step: ``step`` (Int64) and one Float64 column per metric
            (null where a metric was not logged at that step).
        final: final values that are not the curve's last ones (a wandb summary).
        started_at: when it started (seconds since the epoch), when known.
        ended_at: when it ended (seconds since the epoch), when known.
        fingerprint: its :class:`RunRef`'s (set by the reader, see
            :func:`~harness.importers.reading.read_runs`).
    """

    run_id: str
    name: str
    location: str
    config: Mapping[str, Any]
    state: RunState
    curve: pl.DataFrame
    final: Mapping[str, float] = field(default_factory=dict)
    started_at: float | None = None
    ended_at: float | None = None
    fingerprint: str = ""


@dataclass(frozen=True, kw_only=True)
class RunRef:
    """A run found in a source, before it is read.

    Attributes:
        label: how messages name it.
        run_id: its id in the source (the :class:`SourceRun`'s).
        fingerprint: changes whenever the run does (its files' sizes and times, its state and
            last values), found without reading its history: a re-import reads only the runs
            whose fingerprint changed.
        handle: what the source needs to read it.
    """

    label: str
    run_id: str
    fingerprint: str
    handle: Any


class LogSource(ABC):
    """A store of logged runs (a wandb folder, a TensorBoard log folder, an MLflow store ...).

    Args:
        location: what the user pointed at (a folder, a file, a URI, ``entity/project``).
    """

    kind: str = ""
    # whether its runs may be read in other processes, many at once (each run its own files;
    # the source and its RunRefs pickle)
    reads_in_processes: bool = False

    def __init__(self, location: str) -> None:
        self.location = location

    @abstractmethod
    def find_runs(self) -> Sequence[RunRef]:
        """The runs in the source, cheaply (no history read).

        Raises:
            ImportFailure: the location is not this kind of log store, or cannot be reached.
        """

    @abstractmethod
    def read_run(self, ref: RunRef) -> SourceRun:
        """Read one run: config, state and curve.

        Raises:
            RunUnreadable: the run cannot be read (a damaged file ...), saying why.
        """


def curve_from_rows(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A curve from rows of ``{"step": int, metric: number, ...}``: one row per step (rows of
    one step merged, the later value winning), steps ascending, non-numbers left out (a step
    whose rows hold none is kept, its metrics null)."""
    import polars as pl

    steps: list[int] = []
    names: list[str] = []
    values: list[float] = []
    every_step: set[int] = set()
    for row in rows:
        step = row.get("step")
        if isinstance(step, bool) or not isinstance(step, int | float):
            continue
        every_step.add(int(step))
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                steps.append(int(step))
                names.append(key)
                values.append(float(value))
    curve = curve_from_columns(steps, names, values)
    if len(every_step) > curve.height:
        every = pl.DataFrame({"step": sorted(every_step)}, schema={"step": pl.Int64})
        curve = every.join(curve, on="step", how="left")
    return curve


def curve_from_columns(
    steps: Sequence[int] | pl.Series,
    names: Sequence[str] | pl.Series,
    values: Sequence[float] | pl.Series,
) -> pl.DataFrame:
    """A curve from points given as three aligned columns, in the order they were logged.

    Args:
        steps: each point's step.
        names: each point's metric.
        values: each point's value.

    Returns:
        One row per step, ascending: ``step`` (Int64) and a Float64 column per metric (sorted
        by name; null where a metric has no point at that step). Of two points of a metric at
        one step, the later wins.
    """
    import polars as pl

    if len(steps) == 0:
        return pl.DataFrame(schema={"step": pl.Int64})
    wide = (
        pl.DataFrame(
            {"step": steps, "name": names, "value": values},
            schema={"step": pl.Int64, "name": pl.String, "value": pl.Float64},
        )
        .unique(subset=["step", "name"], keep="last", maintain_order=True)
        .pivot(on="name", index="step", values="value")
        .sort("step")
    )
    return wide.select("step", *sorted(c for c in wide.columns if c != "step"))


def parse_text_value(text: str) -> Any:
    """A config value logged as text (MLflow params, CSV cells, folder names) as the value it
    spells: ``"3"`` -> 3, ``"0.1"`` -> 0.1, ``"true"`` -> True, ``"None"`` -> None, anything
    else the text itself."""
    import json

    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        pass
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


def config_from_path(label: str) -> dict[str, Any]:
    """``key=value`` parts of a run's folder path (``lr=0.1,seed=2`` or ``lr=0.1/seed=2``): how
    many people name runs when their logger keeps no config."""
    from pathlib import PurePath

    config: dict[str, Any] = {}
    for part in PurePath(label).parts:
        for item in part.split(","):
            key, sep, value = item.partition("=")
            if sep and key.strip():
                config[key.strip()] = parse_text_value(value)
    return config


def run_folder_refs(
    location: str, pattern: str, *, what: str, files: Callable[[Path], Sequence[Path]]
) -> list[RunRef]:
    """The runs of a log folder that keeps one run per folder: each folder under ``location``
    holding a file that matches ``pattern``.

    Args:
        location: the log folder.
        pattern: a glob of the file each run folder holds.
        what: what such folders are, for the error ("Lightning CSVLogger runs (...)").
        files: a run folder's files that make its fingerprint.

    Returns:
        One ref a run folder, sorted by path: labelled (and identified) by its path below the
        log folder, the folder itself as its handle.

    Raises:
        ImportFailure: no such folder, or no run folder in it.
    """
    root = Path(location)
    if not root.is_dir():
        raise ImportFailure(f"{root}: no such folder")
    folders = sorted({path.parent for path in root.rglob(pattern) if path.is_file()})
    if not folders:
        raise ImportFailure(f"{root}: no {what} in it")
    refs = []
    for folder in folders:
        label = str(folder.relative_to(root)) if folder != root else root.name
        fingerprint = files_fingerprint(files(folder))
        refs.append(RunRef(label=label, run_id=label, fingerprint=fingerprint, handle=folder))
    return refs


def files_fingerprint(paths: Sequence[Path]) -> str:
    """A run's fingerprint from its files' sizes and modification times: a log that grew or
    was rewritten changes it."""
    stats = [path.stat() for path in paths]
    return ";".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)
