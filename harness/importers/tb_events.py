"""TensorBoard event files read whole: every scalar point, with TensorBoard's own rules.

TensorBoard's ``EventAccumulator`` reads a record at a time through a pure-Python CRC32C (two
checksums a record, 10 us each) and a Python object per event: 1.5 s for a run of 5,000 steps
of two scalars. Here each file is read in one go, the checksums are taken by ``google-crc32c``
(C; TensorBoard's own pure-Python one when that is not installed), and all the events of a file
are parsed by protobuf in one call, as the elements of a message declared for the purpose
(``repeated tensorboard.Event event = 1``). What is kept of them follows the accumulator
(``tensorboard.backend.event_processing.event_accumulator``), which the tests compare with:

- a scalar is a value's ``simple_value``, or its one-element ``tensor`` when the tag's first
  metadata names the ``scalars`` plugin (TF2's ``tf.summary.scalar``);
- every point is kept (the accumulator keeps them all only when told, as harness told it: its
  default keeps a sample of 10,000 per tag);
- a restart purges points, as TensorBoard does: with ``file_version`` 2 or later a
  ``SessionLog.START`` event drops every point at or after its step; before that, an event
  whose step went back drops its tags' points at or after its step (``simple_value`` points
  only: the accumulator does not purge tensors);
- a record cut short at the end of a file (a writer still writing) ends the file's events, as
  in TensorBoard; a record whose checksum fails is damage, and the run is not read (TensorBoard
  would silently drop the rest of the file).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

# TFRecord framing: length (u64), its masked CRC32C (u32), the data, its masked CRC32C (u32)
HEADER = struct.Struct("<QI")
LENGTH_SIZE = 8
CHECKSUM = struct.Struct("<I")
CRC_MASK_DELTA = 0xA282EAD8
# tensorboard.compat.proto.types_pb2: DataType
DT_FLOAT, DT_DOUBLE = 1, 2


class DamagedEventFile(Exception):
    """A record of an event file fails its checksum: the file is damaged."""


class Point(NamedTuple):
    """One scalar point."""

    step: int
    value: float
    wall_time: float


@dataclass(kw_only=True)
class RunEvents:
    """What a run's event files hold.

    Attributes:
        scalars: each ``simple_value`` tag's points, in the order read.
        tensors: each tag's one-element ``tensor`` points whose tag's metadata names the
            ``scalars`` plugin, in the order read.
        plugin_content: each plugin's content by tag, from the tag's first metadata (the
            hparams plugin's session start and end, for instance).
    """

    scalars: dict[str, list[Point]] = field(default_factory=dict)
    tensors: dict[str, list[Point]] = field(default_factory=dict)
    plugin_content: dict[str, dict[str, bytes]] = field(default_factory=dict)


def read_run_events(files: Sequence[Path]) -> RunEvents:
    """Read a run's event files, in the order given (TensorBoard reads them sorted by name).

    Args:
        files: the run's ``events.out.tfevents.*`` files.

    Returns:
        Its scalar points and plugin contents.

    Raises:
        DamagedEventFile: a record fails its checksum.
        OSError: a file cannot be read.
    """
    state = _Accumulator()
    for path in files:
        state.add_all(_event_list().FromString(_framed_events(path)).event)
    tensors: dict[str, list[Point]] = {}
    for tag, found in state.tensor_points.items():
        if state.metadata.get(tag, ("", b""))[0] != "scalars":
            continue
        numbers = [(step, _tensor_scalar(tensor), wall) for step, tensor, wall in found]
        tensors[tag] = [Point(s, n, w) for s, n, w in numbers if n is not None]
    return RunEvents(
        scalars=state.scalar_points, tensors=tensors, plugin_content=state.plugin_content
    )


class _Accumulator:
    """The accumulator's bookkeeping (``EventAccumulator._ProcessEvent``), for scalars only."""

    def __init__(self) -> None:
        self.scalar_points: dict[str, list[Point]] = {}
        # tensors are kept as they are until the end: only those of the scalars plugin are read
        self.tensor_points: dict[str, list[tuple[int, Any, float]]] = {}
        self.metadata: dict[str, tuple[str, bytes]] = {}
        self.plugin_content: dict[str, dict[str, bytes]] = {}
        self.file_version: float | None = None
        self.most_recent_step = -1

    def add_all(self, events: Any) -> None:
        """Add each of ``events`` in turn (the loop that 10,000 events a run go through)."""
        scalars = self.scalar_points
        metadata = self.metadata
        start = _session_start()
        for event in events:
            what = event.WhichOneof("what")
            if what == "file_version":
                self.file_version = _file_version(event.file_version)
            step = event.step
            # a restart purges what came after it (EventAccumulator._MaybePurgeOrphanedData)
            if self.file_version is not None and self.file_version >= 2:
                if what == "session_log" and event.session_log.status == start:
                    self._purge(step, tags=None)
            elif step < self.most_recent_step and what == "summary":
                self._purge(step, tags=[value.tag for value in event.summary.value])
            else:
                self.most_recent_step = step
            if what != "summary":
                continue
            wall_time = event.wall_time
            for value in event.summary.value:
                tag = value.tag
                if tag not in metadata and value.HasField("metadata"):
                    plugin = value.metadata.plugin_data
                    metadata[tag] = (plugin.plugin_name, plugin.content)
                    if plugin.plugin_name:
                        self.plugin_content.setdefault(plugin.plugin_name, {})[tag] = plugin.content
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    points = scalars.get(tag)
                    if points is None:
                        points = scalars[tag] = []
                    points.append(Point(step, value.simple_value, wall_time))
                elif kind == "tensor":
                    tag = tag or value.node_name  # the old way of naming a tensor summary
                    self.tensor_points.setdefault(tag, []).append((step, value.tensor, wall_time))

    def _purge(self, step: int, tags: list[str] | None) -> None:
        """Drop the ``simple_value`` points at or after ``step`` (of ``tags``; None: of every
        tag); TensorBoard's accumulator leaves tensors as they are."""
        for tag, points in self.scalar_points.items():
            if tags is None or tag in tags:
                self.scalar_points[tag] = [point for point in points if point.step < step]


def _file_version(text: str) -> float:
    try:
        return float(text.split("brain.Event:")[-1])
    except ValueError:
        return -1.0  # TensorBoard's default: the out-of-order step rule


def _tensor_scalar(tensor: Any) -> float | None:
    """A one-element tensor's number (None for a larger tensor)."""
    if not tensor.tensor_content:
        if tensor.dtype == DT_FLOAT and len(tensor.float_val) == 1:
            return float(tensor.float_val[0])
        if tensor.dtype == DT_DOUBLE and len(tensor.double_val) == 1:
            return float(tensor.double_val[0])
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError):
        return None
    return float(array.item()) if array.size == 1 else None


def _framed_events(path: Path) -> bytes:
    """The events of an event file, checksums checked, each framed as element 1 of a message
    (its tag and length before it), so that one parse reads them all."""
    data = path.read_bytes()
    headers: list[bytes] = []
    header_crcs: list[int] = []
    events: list[bytes] = []
    event_crcs: list[int] = []
    pieces: list[bytes] = []
    position, end = 0, len(data)
    while position + HEADER.size <= end:
        length, header_crc = HEADER.unpack_from(data, position)
        start = position + HEADER.size
        if start + length + CHECKSUM.size > end:
            # cut short (a writer still writing), unless its length is damaged
            headers.append(data[position : position + LENGTH_SIZE])
            header_crcs.append(header_crc)
            break
        event = data[start : start + length]
        headers.append(data[position : position + LENGTH_SIZE])
        header_crcs.append(header_crc)
        events.append(event)
        event_crcs.append(CHECKSUM.unpack_from(data, start + length)[0])
        pieces.append(_element_header(length))
        pieces.append(event)
        position = start + length + CHECKSUM.size
    for found, expected in ((headers, header_crcs), (events, event_crcs)):
        damaged = _first_mismatch(found, expected)
        if damaged is not None:
            raise DamagedEventFile(f"{path.name}: its record {damaged + 1} is damaged")
    return b"".join(pieces)


def _first_mismatch(pieces: list[bytes], expected: list[int]) -> int | None:
    """The index of the first piece whose masked CRC32C is not the one expected; None: none."""
    import numpy as np

    crc = np.fromiter(map(_crc32c(), pieces), dtype=np.uint64, count=len(pieces))
    masked = (((crc >> 15) | (crc << 17)) + CRC_MASK_DELTA) & 0xFFFFFFFF
    wrong = np.flatnonzero(masked != np.asarray(expected, dtype=np.uint64))
    return int(wrong[0]) if len(wrong) else None


def _element_header(length: int) -> bytes:
    """Field 1's tag (length-delimited) and the length as a varint."""
    out = bytearray(b"\x0a")
    while length >= 0x80:
        out.append((length & 0x7F) | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out)


@cache
def _crc32c() -> Callable[[bytes], int]:
    """CRC32C (unmasked), by google-crc32c's C code, else TensorBoard's own Python one."""
    try:
        import google_crc32c
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c

        return crc32c  # type: ignore[no-any-return]
    return google_crc32c.value  # type: ignore[no-any-return]


@cache
def _session_start() -> int:
    from tensorboard.compat.proto import event_pb2

    return int(event_pb2.SessionLog.START)


@cache
def _event_list() -> Any:
    """A message of ``repeated tensorboard.Event event = 1``: a file's events in one parse."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from tensorboard.compat.proto import event_pb2

    pool = descriptor_pool.Default()
    name = "harness_tensorboard_events.proto"
    try:
        pool.FindFileByName(name)
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto(
            name=name,
            package="harness_tensorboard_events",
            syntax="proto3",
            dependency=[event_pb2.DESCRIPTOR.name],
        )
        proto.message_type.add(
            name="EventList",
            field=[
                descriptor_pb2.FieldDescriptorProto(
                    name="event",
                    number=1,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
                    type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                    type_name=".tensorboard.Event",
                )
            ],
        )
        pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("harness_tensorboard_events.EventList")
    )
