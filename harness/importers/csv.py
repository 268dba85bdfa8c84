"""CSV logs: Lightning ``CSVLogger`` folders, and plain tables (long or wide, W&B's run export).

**Lightning**: a folder holding ``<name>/version_<n>/metrics.csv`` files; each such folder is a
run, its config the ``hparams.yaml`` beside the metrics (and ``key=value`` parts of its path).

**A plain table** (``.csv``, or ``.tsv`` tab-separated), mapped by its column names:

- the run column: ``--run-column``, else the first of :data:`RUN_COLUMNS` present;
- the step column: ``--step-column``, else the first of :data:`STEP_COLUMNS` present; without
  one, each run's row is its final values (W&B's runs-table export is such a table);
- a state column (:data:`STATE_COLUMNS`): ``finished``/``crashed``/``failed``/``killed``/
  ``running`` (a run without one counts as finished);
- **long** when it has ``metric`` and ``value`` columns: one value per row;
- **wide** otherwise: with a step column, a column with one value per run is config and a
  column that changes within a run is a metric; without one (one row per run), text,
  true/false and integer columns are config and fractional-number columns metrics, except
  those named by ``--config-columns``, ``--variant-by`` or ``--seed-key`` (config).

**W&B's chart export** (a line-plot panel's "Download CSV": ``Step``, ``<run> - <metric>``,
``__MIN``, ``__MAX``) is read as a long table (:mod:`harness.importers.wandb_chart`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.importers._base import (
    ImportFailure,
    LogSource,
    RunRef,
    RunState,
    RunUnreadable,
    SourceRun,
    config_from_path,
    curve_from_rows,
    parse_text_value,
    run_folder_refs,
)
from harness.importers.wandb_chart import chart_to_long, is_chart_export

if TYPE_CHECKING:
    import polars as pl

RUN_COLUMNS = ("run", "run_id", "run_name", "name", "Name", "ID", "id")
STEP_COLUMNS = ("step", "Step", "_step", "global_step", "iteration", "iter")
STATE_COLUMNS = ("state", "State", "status", "Status")
_STATES: dict[str, RunState] = {
    "finished": "finished",
    "done": "finished",
    "success": "finished",
    "crashed": "crashed",
    "failed": "crashed",
    "killed": "crashed",
    "running": "running",
}
LIGHTNING_METRICS = "metrics.csv"
LIGHTNING_HPARAMS = "hparams.yaml"


class LightningCsvSource(LogSource):
    """A folder of Lightning ``CSVLogger`` runs (``save_dir``)."""

    kind = "lightning"
    reads_in_processes = True

    def find_runs(self) -> Sequence[RunRef]:
        return run_folder_refs(
            self.location,
            LIGHTNING_METRICS,
            what=f"Lightning CSVLogger runs (<name>/version_<n>/{LIGHTNING_METRICS})",
            files=_lightning_files,
        )

    def read_run(self, ref: RunRef) -> SourceRun:
        import polars as pl

        folder: Path = ref.handle
        path = folder / LIGHTNING_METRICS
        try:
            table = pl.read_csv(path, infer_schema_length=None)
        except Exception as error:  # polars' parse errors, an unreadable file
            raise RunUnreadable(f"{path} is not a readable CSV table: {error}") from None
        if "step" not in table.columns:
            raise RunUnreadable(f"{path} has no 'step' column")
        config = {**config_from_path(ref.label), **_hparams(folder / LIGHTNING_HPARAMS)}
        metrics = [c for c in table.columns if c not in ("step", "epoch")]
        return SourceRun(
            run_id=ref.label,
            name=ref.label,
            location=str(folder),
            config=config,
            state="finished",
            curve=_curve(table, "step", metrics),
            ended_at=path.stat().st_mtime,
        )


class CsvTableSource(LogSource):
    """One CSV/TSV table of many runs (see the module's docstring for the column mapping).

    Args:
        location: the table's path.
        run_column: the column naming each row's run.
        step_column: the column of steps.
        config_columns: number columns that are config, not metrics (tables without steps).
    """

    kind = "csv"

    def __init__(
        self,
        location: str,
        *,
        run_column: str | None = None,
        step_column: str | None = None,
        config_columns: Sequence[str] = (),
    ) -> None:
        super().__init__(location)
        self.run_column = run_column
        self.step_column = step_column
        self.config_columns = tuple(config_columns)

    def find_runs(self) -> Sequence[RunRef]:
        import polars as pl

        path = Path(self.location)
        if not path.is_file():
            raise ImportFailure(f"{path}: no such file")
        try:
            table = pl.read_csv(
                path, separator="\t" if path.suffix == ".tsv" else ",", infer_schema_length=None
            )
        except Exception as error:  # polars' parse errors
            raise ImportFailure(f"{path}: not a readable CSV table: {error}") from None
        grouped: dict[str, str] = {}
        if self.run_column is None and is_chart_export(table.columns):
            step_column = self.step_column or table.columns[0]
            if step_column not in STEP_COLUMNS and self.step_column is None:
                raise ImportFailure(
                    f"{path}: a W&B chart export whose x axis is '{step_column}', not steps: "
                    "export the panel with Step on the x axis (or name the column with "
                    "--step-column)"
                )
            table, grouped = chart_to_long(table, step_column)
        run = _pick(table.columns, self.run_column, RUN_COLUMNS, "run", path)
        if run is None:
            raise ImportFailure(
                f"{path}: no run column (looked for {', '.join(RUN_COLUMNS)}); name it with "
                "--run-column"
            )
        step = _pick(table.columns, self.step_column, STEP_COLUMNS, "step", path)
        state = next((c for c in STATE_COLUMNS if c in table.columns), None)
        layout = _Layout(run=run, step=step, state=state, table=table, extra=self.config_columns)
        refs = [
            RunRef(
                label=str(name),
                run_id=str(name),
                # the run's own rows, not the file's time: other runs' rows change without it
                fingerprint=hashlib.sha256(rows.write_csv().encode()).hexdigest()[:16],
                handle=(layout, rows),
            )
            for (name,), rows in table.group_by(run, maintain_order=True)
        ]
        # lines of a chart export that are no run: listed, to be named as unreadable
        return refs + [
            RunRef(label=line, run_id=line, fingerprint="", handle=(None, why))
            for line, why in grouped.items()
        ]

    def read_run(self, ref: RunRef) -> SourceRun:
        layout, rows = ref.handle
        if layout is None:
            raise RunUnreadable(rows)
        return layout.run(ref.label, rows, location=self.location)


class _Layout:
    """How a plain table's columns map to runs, steps, config and metrics."""

    def __init__(
        self,
        *,
        run: str,
        step: str | None,
        state: str | None,
        table: pl.DataFrame,
        extra: Sequence[str],
    ) -> None:
        import polars as pl

        self.run_column, self.step, self.state = run, step, state
        self.long = "metric" in table.columns and "value" in table.columns
        rest = [c for c in table.columns if c not in (run, step, state)]
        if self.long:
            self.config = [c for c in rest if c not in ("metric", "value")]
            self.metrics: list[str] = []
            return
        if step is None:
            self.config = [c for c in rest if not table.schema[c].is_float() or c in extra]
        else:
            varying = table.group_by(run).agg(
                [pl.col(c).drop_nulls().n_unique().alias(c) for c in rest]
                + [pl.col(c).null_count().alias(f"{c}\0nulls") for c in rest]
            )
            self.config = [
                c
                for c in rest
                if c in extra or (_most(varying[c]) <= 1 and _most(varying[f"{c}\0nulls"]) == 0)
            ]
        self.metrics = [c for c in rest if c not in self.config and table.schema[c].is_numeric()]

    def run(self, name: str, rows: pl.DataFrame, *, location: str) -> SourceRun:
        import polars as pl

        first = rows.row(0, named=True)
        config = {c: _cell(first[c]) for c in self.config if first[c] is not None}
        state_text = str(first[self.state]).lower() if self.state else "finished"
        state = _STATES.get(state_text)
        if state is None:
            raise RunUnreadable(f"state '{state_text}' is none of {', '.join(_STATES)}")
        step = self.step
        if step is None:
            rows = rows.with_columns(pl.lit(0, dtype=pl.Int64).alias("step"))
            step = "step"
        if self.long:
            try:
                rows = rows.pivot(
                    on="metric", index=step, values="value", aggregate_function="last"
                )
            except Exception as error:  # values that are not numbers ...
                raise RunUnreadable(f"its metric/value rows cannot be tabled: {error}") from None
            metrics = [c for c in rows.columns if c != step]
        else:
            metrics = self.metrics
        return SourceRun(
            run_id=name,
            name=name,
            location=f"{location} run {name}",
            config=config,
            state=state,
            curve=_curve(rows, step, metrics),
        )


def _most(counts: pl.Series) -> int:
    """The largest of per-run counts (0 for none)."""
    largest = counts.max()
    return int(largest) if isinstance(largest, int | float) else 0


def _pick(
    columns: Sequence[str], named: str | None, candidates: Sequence[str], what: str, path: Path
) -> str | None:
    if named is not None:
        if named not in columns:
            raise ImportFailure(
                f"{path}: no {what} column '{named}' (columns: {', '.join(columns)})"
            )
        return named
    return next((c for c in candidates if c in columns), None)


def _curve(table: pl.DataFrame, step: str, metrics: Sequence[str]) -> pl.DataFrame:
    """A table's step and metric columns as a curve (one row per step, later rows winning)."""
    import polars as pl

    numeric = [m for m in metrics if table.schema[m].is_numeric()]
    try:
        frame = table.select(
            pl.col(step).cast(pl.Int64).alias("step"),
            *[pl.col(m).cast(pl.Float64) for m in numeric],
        ).filter(pl.col("step").is_not_null())
    except Exception as error:  # a step that is no integer
        raise RunUnreadable(
            f"its '{step}' column holds values that are not steps: {error}"
        ) from None
    if frame.height and frame["step"].n_unique() < frame.height:
        # Lightning writes one row per log call: rows of one step are merged
        return curve_from_rows(frame.to_dicts())
    return frame.sort("step")


def _lightning_files(folder: Path) -> list[Path]:
    """A Lightning run's files: its metrics and, where it has one, its hparams."""
    files = [folder / LIGHTNING_METRICS, folder / LIGHTNING_HPARAMS]
    return [path for path in files if path.is_file()]


def _hparams(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        import yaml
    except ImportError:
        raise RunUnreadable(f"reading {path} needs PyYAML: pip install pyyaml") from None
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise RunUnreadable(f"{path} is not readable YAML: {error}") from None
    return dict(data) if isinstance(data, Mapping) else {}


def _cell(value: Any) -> Any:
    return parse_text_value(value) if isinstance(value, str) else value
