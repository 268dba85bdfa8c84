"""TensorBoard log folders: one sub-folder per run, each with its ``events.out.tfevents.*`` files.

Read with TensorBoard's own ``EventAccumulator``: every scalar with its step (scalars written as
TF2 tensors too). A run's config comes from its hparams (``SummaryWriter.add_hparams`` or the
hparams plugin) and from ``key=value`` parts of its folder path (``lr=0.1,seed=2/``); its state
from the hparams session's end status, when it has one (finished otherwise: event files say
nothing else about how a run ended).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.importers._base import (
    ImportFailure,
    LogSource,
    RunRef,
    RunState,
    RunUnreadable,
    SourceRun,
    config_from_path,
    curve_from_rows,
    files_fingerprint,
    folder_label,
    run_folders,
)

EVENT_FILE_GLOB = "events.out.tfevents.*"
INSTALL_HINT = "pip install tensorboard  (or: pip install 'harness[import-tensorboard]')"


class TensorBoardSource(LogSource):
    """A TensorBoard log folder (the ``--logdir`` one would give ``tensorboard``)."""

    kind = "tensorboard"

    def find_runs(self) -> Sequence[RunRef]:
        root, folders = run_folders(
            self.location, EVENT_FILE_GLOB, what="TensorBoard event files (events.out.tfevents.*)"
        )
        _require_tensorboard()
        refs = []
        for folder in folders:
            label = folder_label(root, folder)
            events = sorted(folder.glob(EVENT_FILE_GLOB))
            refs.append(
                RunRef(
                    label=label, run_id=label, fingerprint=files_fingerprint(events), handle=folder
                )
            )
        return refs

    def read_run(self, ref: RunRef) -> SourceRun:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        folder: Path = ref.handle
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        try:
            accumulator.Reload()
        except Exception as error:  # the reader's errors are its own (DataLossError ...)
            raise RunUnreadable(f"TensorBoard cannot read its event files: {error}") from None
        rows = _scalar_rows(accumulator)
        config, state = _hparams(accumulator)
        config = {**config_from_path(ref.label), **config}
        wall_times = [row.pop("_wall_time") for row in rows]
        return SourceRun(
            run_id=ref.label,
            name=ref.label,
            location=str(folder),
            config=config,
            state=state,
            curve=curve_from_rows(rows),
            started_at=min(wall_times, default=None),
            ended_at=max(wall_times, default=None),
        )


def _require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ImportFailure(f"reading TensorBoard logs needs TensorBoard: {INSTALL_HINT}") from None


def _scalar_rows(accumulator: Any) -> list[dict[str, Any]]:
    """One row per scalar event: ``step``, the tag's value and the event's wall time."""
    rows: list[dict[str, Any]] = []
    tags = accumulator.Tags()
    for tag in tags.get("scalars", []):
        for event in accumulator.Scalars(tag):
            rows.append({"step": event.step, tag: event.value, "_wall_time": event.wall_time})
    for tag in tags.get("tensors", []):
        metadata = accumulator.SummaryMetadata(tag)
        if metadata.plugin_data.plugin_name != "scalars":
            continue
        from tensorboard.util import tensor_util

        for event in accumulator.Tensors(tag):
            value = tensor_util.make_ndarray(event.tensor_proto)
            if value.size == 1:
                rows.append(
                    {"step": event.step, tag: float(value.item()), "_wall_time": event.wall_time}
                )
    return rows


# hparams session end status (tensorboard.plugins.hparams.api_pb2.Status): 2 is STATUS_FAILURE
STATUS_FAILURE = 2


def _hparams(accumulator: Any) -> tuple[dict[str, Any], RunState]:
    """The run's hparams and, when the hparams session says, how it ended."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    config: dict[str, Any] = {}
    state: RunState = "finished"
    try:
        contents = accumulator.PluginTagToContent("hparams")
    except KeyError:
        return config, state
    for content in contents.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            for key, value in data.session_start_info.hparams.items():
                config[key] = _hparam_value(value)
        ended = data.HasField("session_end_info")
        if ended and int(data.session_end_info.status) == STATUS_FAILURE:
            state = "crashed"
    return config, state


def _hparam_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = float(value.number_value)
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind == "string_value":
        return str(value.string_value)
    return None
