"""Where ``harness compare`` and ``harness report`` get their tables: a study directory (through
``harness.store``) or a results file (CSV, parquet, JSONL) from any tool."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UserError, closest

if TYPE_CHECKING:
    import polars as pl

    from harness.store import StudyMeta

# Columns that identify a run or describe it, never metrics.
KEY_COLUMNS = ("variant", "seed", "step", "status")
FILE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "ndjson"}
FILE_SUFFIXES[".ndjson"] = "ndjson"


@dataclass(kw_only=True)
class Inputs:
    """A source of results.

    Attributes:
        source: the study directory or the file.
        study_dir: the study directory, when the source is one.
        meta: the study's description (metric, direction, baseline ...); None for a file.
        table: one row per run with final values, or None for a file of curves.
        curves_file: for a file with a ``step`` column, the file itself as curves.
        statuses: for a study, every planned run's ``variant``, ``seed``, ``status`` (lost
            runs included); for a file with a ``status`` column, its rows; else None.
    """

    source: Path
    study_dir: Path | None = None
    meta: StudyMeta | None = None
    table: pl.DataFrame | None = None
    curves_file: pl.DataFrame | None = None
    statuses: pl.DataFrame | None = None
    _curves: pl.DataFrame | None = field(default=None, repr=False)

    def curves(self) -> pl.DataFrame | None:
        """The curves table (loaded on first use for a study), or None when there is none."""
        if self.curves_file is not None:
            return self.curves_file
        if self.study_dir is None:
            return None
        if self._curves is None:
            from harness.store import load_curves

            self._curves = load_curves(self.study_dir)
        return self._curves

    def step_axis(self) -> str:
        """What the curves' steps count: "log line" when every finished run of the study read
        its metrics from printed lines that had no step (its record says so), else "step"."""
        if self.study_dir is None:
            return "step"
        from harness.store import FileSystemStore

        store = FileSystemStore(self.study_dir)
        records = [store.read_record(key) for key in store.run_keys()]
        axes = {r.provenance.get("step_axis", "step") for r in records if r and r.status == "done"}
        return "log line" if axes == {"log line"} else "step"

    def metric_names(self) -> list[str]:
        frame = self.table if self.table is not None else self.curves_file
        if frame is None:
            return []
        return [c for c in frame.columns if c not in KEY_COLUMNS and frame.schema[c].is_numeric()]


def load_inputs(path: str | None, *, runs_dir: str | None = None) -> Inputs:
    """Resolve ``path``: a results file, a study directory, a study name under the runs root, or
    None for the most recently modified study.

    Raises:
        UserError: nothing usable at ``path``.
    """
    if path is not None and Path(path).is_file():
        return _load_file(Path(path))
    from harness.store import find_study_dir, load_run_statuses, load_study_meta, load_table

    phased = phased_root(path, runs_dir=runs_dir)
    if phased is not None:
        names = phase_names(phased)
        example = f"{phased / names[0]}" if names else f"{phased}/<phase>"
        raise UserError(
            f"{phased} is a phased study: compare one phase at a time, e.g. {example} "
            f"(phases: {', '.join(names) or 'none finished yet'}); 'harness report {phased}' "
            "reports every phase with its decision"
        )
    study_dir = find_study_dir(path, runs_dir=runs_dir)
    return Inputs(
        source=study_dir,
        study_dir=study_dir,
        meta=load_study_meta(study_dir),
        table=load_table(study_dir),
        statuses=load_run_statuses(study_dir),
    )


def phased_root(path: str | None, *, runs_dir: str | None = None) -> Path | None:
    """The root of a phased study (phase decisions, no study of its own) named by ``path`` — a
    directory or a study name under the runs root — or None."""
    if path is None:
        return None
    from harness.store import is_phased_root, runs_root

    for candidate in (Path(path), runs_root(runs_dir) / path):
        if is_phased_root(candidate):
            return candidate
    return None


def phase_names(root: Path) -> list[str]:
    """The phases of a phased study root: the decided ones in order, then any other phase
    directory (a phase still running has a directory but no decision yet).

    Raises:
        UserError: the decisions are unreadable.
    """
    from harness.store import is_study_dir, read_phase_decisions

    decided = [decision.phase for decision in read_phase_decisions(root)]
    others = sorted(d.name for d in root.iterdir() if is_study_dir(d) and d.name not in decided)
    return [name for name in decided if is_study_dir(root / name)] + others


def _load_file(path: Path) -> Inputs:
    import polars as pl

    kind = FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"{path}: unknown file type '{path.suffix}'; use .csv, .parquet or .jsonl "
            "(or pass a study directory)"
        )
    try:
        if kind == "csv":
            frame = pl.read_csv(path, infer_schema_length=None)
        elif kind == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_ndjson(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read it as {kind}: {error}") from None
    missing = [c for c in ("variant", "seed") if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path}: no column {', '.join(missing)}; a results file needs 'variant', 'seed' "
            f"and metric columns (found: {', '.join(frame.columns)})"
        )
    if "step" in frame.columns:
        return Inputs(source=path, curves_file=frame)
    if "status" in frame.columns:
        # A results file may list lost runs (status diverged/failed, no value): they count as
        # lost runs, and only the done rows are compared.
        import polars as pl

        statuses = frame.select("variant", "seed", pl.col("status").cast(pl.Utf8))
        return Inputs(
            source=path, table=frame.filter(pl.col("status") == "done"), statuses=statuses
        )
    return Inputs(source=path, table=frame)


def metric_table(inputs: Inputs, metric: str, agg: str = "final") -> pl.DataFrame:
    """One row per run: ``variant``, ``seed``, ``metric``, with curves aggregated by ``agg``.

    ``final`` reads the study's final values (the last value each run reported); the other
    aggregations, and any aggregation of a curves file, need the curves.

    Raises:
        UserError: an unknown metric or aggregation, or curves that are needed but absent.
    """
    from analysis import AnalysisError, aggregate_curves, parse_agg

    try:
        aggregation = parse_agg(agg)
    except AnalysisError as error:
        raise UserError(str(error)) from None
    names = inputs.metric_names()
    if aggregation.kind == "final" and inputs.table is not None:
        if metric not in inputs.table.columns:
            curves = inputs.curves()
            if curves is None or metric not in curves.columns:
                raise UserError(_unknown_metric(metric, names, inputs.source))
        else:
            return inputs.table
    curves = inputs.curves()
    if curves is None:
        raise UserError(
            f"--agg {agg} needs curves: a study directory, or a file with a 'step' column "
            f"({inputs.source} has one value per run)"
        )
    if metric not in curves.columns:
        raise UserError(_unknown_metric(metric, names or list(curves.columns), inputs.source))
    try:
        return aggregate_curves(curves, metric, aggregation)
    except AnalysisError as error:
        raise UserError(str(error)) from None


def default_metric(inputs: Inputs, metric: str | None) -> str:
    """``--metric``, else the study's metric, else the only metric column of a file."""
    if metric:
        return metric
    if inputs.meta is not None and inputs.meta.metric:
        return inputs.meta.metric
    names = inputs.metric_names()
    if len(names) == 1:
        return names[0]
    raise UserError(
        f"pass --metric: {inputs.source} has several metric columns ({', '.join(names)})"
        if names
        else f"{inputs.source} has no numeric metric column"
    )


def _unknown_metric(metric: str, names: list[str], source: Path) -> str:
    match = closest(metric, names)
    hint = f" (did you mean '{match}'?)" if match else ""
    return f"no metric '{metric}' in {source}{hint}; metrics: {', '.join(names) or 'none'}"
