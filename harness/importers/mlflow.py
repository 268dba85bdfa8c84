"""MLflow tracking stores: a local ``mlruns`` folder or a tracking URI, through MLflow's client.

Every run of every experiment (or of ``--experiment``): its params as the config (MLflow keeps
them as text; numbers and booleans are read back as such), its status, and the full history
of each metric (``MlflowClient.get_metric_history``).

A local file store's runs are listed from its folders (``<experiment>/<run>/meta.yaml``, a
run's fingerprint its files' sizes and times) and each is read through the client in the
reading processes (:mod:`harness.importers.reading`): MLflow's own listing reads every metric
file whole for its latest value, a second parse of every point, 57 ms a 5,000-step run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.importers._base import (
    ImportFailure,
    LogSource,
    RunRef,
    RunState,
    RunUnreadable,
    SourceRun,
    curve_from_columns,
    files_fingerprint,
    parse_text_value,
)

INSTALL_HINT = "pip install mlflow-skinny  (or: pip install 'harness[import-mlflow]')"
# MLflow's run statuses: FINISHED, FAILED, KILLED, RUNNING, SCHEDULED
_STATES: dict[str, RunState] = {"FINISHED": "finished", "FAILED": "crashed", "KILLED": "crashed"}


class MlflowSource(LogSource):
    """An MLflow store.

    Args:
        location: a local folder (``mlruns``) or a tracking URI (``file:``, ``sqlite:``,
            ``http(s):``, ``databricks``).
        experiment: only this experiment (a name), else every experiment in the store.
    """

    kind = "mlflow"

    def __init__(self, location: str, experiment: str | None = None) -> None:
        super().__init__(location)
        self.experiment = experiment
        self._client: Any = None
        self._folder: Path | None = None  # a local file store's folder

    def __getstate__(self) -> dict[str, Any]:
        # a reading process connects its own client
        return {**self.__dict__, "_client": None}

    def find_runs(self) -> Sequence[RunRef]:
        client = self._connect()
        try:
            experiments = client.search_experiments()
            if self.experiment is not None:
                experiments = [e for e in experiments if e.name == self.experiment]
                if not experiments:
                    raise ImportFailure(
                        f"{self.location}: no MLflow experiment '{self.experiment}'"
                    )
            if self._folder is not None:
                self.reads_in_processes = True
                return self._file_store_runs(experiments)
            ids = [experiment.experiment_id for experiment in experiments]
            runs = _all_runs(client, ids) if ids else []
        except ImportFailure:
            raise
        except Exception as error:  # MLflow's own errors (MlflowException, a refused URI)
            raise ImportFailure(f"{self.location}: MLflow cannot list the runs: {error}") from None
        if not runs:
            raise ImportFailure(f"{self.location}: no MLflow runs in it")
        names = {e.experiment_id: e.name for e in experiments}
        return [
            RunRef(
                label=f"{names.get(run.info.experiment_id, run.info.experiment_id)}/"
                f"{run.info.run_name or run.info.run_id}",
                run_id=run.info.run_id,
                fingerprint=_fingerprint(run),
                handle=run,
            )
            for run in runs
        ]

    def _file_store_runs(self, experiments: Sequence[Any]) -> list[RunRef]:
        """A file store's active runs, from its folders: no metric file is read."""
        assert self._folder is not None
        refs = []
        for experiment in experiments:
            for meta in sorted((self._folder / experiment.experiment_id).glob("*/meta.yaml")):
                run_id = meta.parent.name
                try:
                    info = _yaml(meta)
                except (OSError, ValueError) as error:
                    problem = f"its meta.yaml cannot be read: {error}"
                    label = f"{experiment.name}/{run_id}"
                    refs.append(RunRef(label=label, run_id=run_id, fingerprint="", handle=problem))
                    continue
                if info.get("lifecycle_stage", "active") != "active":
                    continue  # deleted: MLflow's own listing leaves it out
                files = sorted(path for path in meta.parent.rglob("*") if path.is_file())
                refs.append(
                    RunRef(
                        label=f"{experiment.name}/{info.get('run_name') or run_id}",
                        run_id=run_id,
                        fingerprint=files_fingerprint(files),
                        handle=_StoredRun(str(info.get("run_id") or run_id)),
                    )
                )
        if not refs:
            raise ImportFailure(f"{self.location}: no MLflow runs in it")
        return refs

    def read_run(self, ref: RunRef) -> SourceRun:
        if isinstance(ref.handle, str):
            raise RunUnreadable(ref.handle)
        if self._client is None:  # in a reading process
            self._connect()
        run = ref.handle
        if isinstance(run, _StoredRun):
            try:
                run = self._client.get_run(run.run_id)
            except Exception as error:  # MLflow's own: a damaged metric or param file
                raise RunUnreadable(f"MLflow cannot read it: {error}") from None
        info = run.info
        steps: list[int] = []
        names: list[str] = []
        values: list[float] = []
        try:
            for key in sorted(run.data.metrics):
                history = self._client.get_metric_history(info.run_id, key)
                steps += [metric.step for metric in history]
                names += [key] * len(history)
                values += [metric.value for metric in history]
        except Exception as error:  # MLflow's own errors: a damaged metric file ...
            raise RunUnreadable(f"MLflow cannot read its metric history: {error}") from None
        config = {key: parse_text_value(value) for key, value in run.data.params.items()}
        return SourceRun(
            run_id=info.run_id,
            name=info.run_name or info.run_id,
            location=f"{self.location} run {info.run_id}",
            config=config,
            state=_STATES.get(info.status, "running"),
            curve=curve_from_columns(steps, names, values),
            started_at=info.start_time / 1000 if info.start_time else None,
            ended_at=info.end_time / 1000 if info.end_time else None,
        )

    def _connect(self) -> Any:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ImportFailure(f"reading MLflow stores needs MLflow: {INSTALL_HINT}") from None
        uri = self.location
        if "://" not in uri and not uri.startswith(("databricks", "file:")):
            folder = Path(uri)
            if not folder.is_dir():
                raise ImportFailure(f"{folder}: no such folder")
            if not any(folder.glob("*/meta.yaml")):
                raise ImportFailure(
                    f"{folder}: not an MLflow file store (no <experiment>/meta.yaml in it)"
                )
            uri = folder.resolve().as_uri()
            self._folder = folder
        if uri.startswith("file:"):
            # MLflow 3 refuses its file store unless asked; reading one is all we do
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self._client = MlflowClient(tracking_uri=uri)
        return self._client


@dataclass(frozen=True)
class _StoredRun:
    """A file store's run, listed but not read yet."""

    run_id: str


def _yaml(path: Path) -> dict[str, Any]:
    """A meta.yaml as a mapping.

    Raises:
        ValueError: not a YAML mapping.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return data


def _fingerprint(run: Any) -> str:
    """Status, end time and the latest value of each metric (MLflow keeps them with the run):
    a run that logged more, or ended, changes it."""
    import hashlib

    latest = json.dumps(sorted(run.data.metrics.items()), default=str)
    digest = hashlib.sha256(latest.encode()).hexdigest()[:16]
    return f"{run.info.status}:{run.info.end_time}:{digest}"


def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    """Every run of the experiments, page by page (MLflow returns at most 1000 at a time)."""
    from mlflow.entities import ViewType

    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            experiment_ids, run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs
