"""TensorBoard log folders: one sub-folder per run, each with its ``events.out.tfevents.*`` files.

Read by :mod:`harness.importers.tb_events` with TensorBoard's own protobuf messages and the
rules of its ``EventAccumulator``, much faster than the accumulator itself: every scalar with
its step (scalars written as TF2 tensors too). A run's config comes from its hparams
(``SummaryWriter.add_hparams`` or the hparams plugin) and from ``key=value`` parts of its folder
path (``lr=0.1,seed=2/``); its state from the hparams session's end status, when it has one
(finished otherwise: event files say nothing else about how a run ended).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    curve_from_columns,
    run_folder_refs,
)

EVENT_FILE_GLOB = "events.out.tfevents.*"
INSTALL_HINT = "pip install tensorboard  (or: pip install 'harness[import-tensorboard]')"


class TensorBoardSource(LogSource):
    """A TensorBoard log folder (the ``--logdir`` one would give ``tensorboard``)."""

    kind = "tensorboard"
    reads_in_processes = True

    def find_runs(self) -> Sequence[RunRef]:
        refs = run_folder_refs(
            self.location,
            EVENT_FILE_GLOB,
            what="TensorBoard event files (events.out.tfevents.*)",
            files=lambda folder: sorted(folder.glob(EVENT_FILE_GLOB)),
        )
        _require_tensorboard()
        return refs

    def read_run(self, ref: RunRef) -> SourceRun:
        from harness.importers.tb_events import DamagedEventFile, read_run_events

        folder: Path = ref.handle
        try:
            events = read_run_events(sorted(folder.glob(EVENT_FILE_GLOB)))
        except DamagedEventFile as error:
            raise RunUnreadable(f"an event file is damaged: {error}") from None
        except OSError as error:
            raise RunUnreadable(f"its event files cannot be read: {error}") from None
        except Exception as error:  # protobuf's own (DecodeError): not an event file
            raise RunUnreadable(f"its event files cannot be parsed: {error}") from None
        config, state = _hparams(events.plugin_content.get("hparams", {}))
        config = {**config_from_path(ref.label), **config}
        steps: list[int] = []
        names: list[str] = []
        values: list[float] = []
        wall_times: list[float] = []
        # simple values first, then tensors: of a tag logged both ways, the tensor wins
        for points_by_tag in (events.scalars, events.tensors):
            for tag, points in points_by_tag.items():
                steps += [point.step for point in points]
                names += [tag] * len(points)
                values += [point.value for point in points]
                wall_times += [point.wall_time for point in points]
        return SourceRun(
            run_id=ref.label,
            name=ref.label,
            location=str(folder),
            config=config,
            state=state,
            curve=curve_from_columns(steps, names, values),
            started_at=min(wall_times, default=None),
            ended_at=max(wall_times, default=None),
        )


def _require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ImportFailure(f"reading TensorBoard logs needs TensorBoard: {INSTALL_HINT}") from None


# hparams session end status (tensorboard.plugins.hparams.api_pb2.Status): 2 is STATUS_FAILURE
STATUS_FAILURE = 2


def _hparams(contents: Mapping[str, bytes]) -> tuple[dict[str, Any], RunState]:
    """The run's hparams and, when the hparams session says, how it ended.

    Args:
        contents: the hparams plugin's content of each of its tags.
    """
    from tensorboard.plugins.hparams import plugin_data_pb2

    config: dict[str, Any] = {}
    state: RunState = "finished"
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
