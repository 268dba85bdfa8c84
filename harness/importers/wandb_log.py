"""A wandb run folder's ``.wandb`` log read column-wise: the importer's fast path.

A logged step is two records of the log (a history record and a summary record) of a few items
(``key`` and ``value_json``) each. Decoding them one protobuf object at a time, as
:func:`harness.worker.wandb_source.read_run_dir` does for the one run a worker just finished,
costs about 5 us a record and 2 us an item: a fifth of a second per 5,000-step run, too slow
for 500 runs. Here protobuf walks the records itself, in C, through message types declared for
the purpose (:func:`_column_types`): parsed as ``repeated bytes history = 2``, the log's
history records become a list of their payloads in one call; parsed as ``repeated string
nested_key = 2; repeated string value_json = 16``, all their items become aligned columns in
another. Marks joined in between (an item, a step) keep where each record and item ends. Python
only builds the table from the columns, with polars.

Where the columns would not line up one to one (items naming their key both ways, a record
without its step, a summary key removed, more than one run record), :class:`NotColumnar` says
so and the caller reads the run with :func:`~harness.worker.wandb_source.read_run_dir`, the
reference: the tests check that both read the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.importers._base import curve_from_columns
from harness.worker.metric_sources import MetricSourceError
from harness.worker.wandb_source import log_records, public_numbers, summary_rows, update_config

if TYPE_CHECKING:
    import polars as pl

# What is joined between items: a part of a nested key no key has; "/".join of all the parts
# then splits into each item's key at "/<mark>/"
ITEM_MARK = "\x00harness:item\x00"
ITEM_SEPARATOR = b"\x12" + bytes([len(ITEM_MARK)]) + ITEM_MARK.encode()
# What is joined after each history record's payload: an item with a mark for its key (and an
# empty value) and a step that is no HistoryStep
RECORD_MARK = "\x00harness:record\x00"
RECORD_END_STEP = b"\xff"
_RECORD_END_ITEM = b"\x12" + bytes([len(RECORD_MARK)]) + RECORD_MARK.encode() + b"\x82\x01\x00"
RECORD_END = (
    b"\x0a" + bytes([len(_RECORD_END_ITEM)]) + _RECORD_END_ITEM + b"\x12\x01" + RECORD_END_STEP
)


class NotColumnar(Exception):
    """The log holds something the column-wise reading does not take: read it record by record."""


@dataclass(kw_only=True)
class WandbLog:
    """What a wandb run folder holds.

    Attributes:
        curve: one row per logged step (``step`` and a Float64 column per public metric, null
            where one was not logged at that step), with the summary's final values that differ
            from the history's last ones at the last step: the curve
            :func:`~harness.importers._base.curve_from_rows` makes of
            :func:`~harness.worker.wandb_source.read_run_dir`'s rows.
        name: its display name.
        group: its group.
        config: its config, wandb's own ``_wandb`` entry left out.
        exit_code: its exit code; None when it never finished.
        started_at: when it started (seconds since the epoch).
    """

    curve: pl.DataFrame
    name: str | None = None
    group: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    started_at: float | None = None


def read_wandb_folder(run_path: Path) -> WandbLog:
    """Read a wandb run folder (``wandb/run-*`` or ``wandb/offline-run-*``) column-wise.

    Args:
        run_path: the folder.

    Returns:
        Its curve, config, name, group, exit code and start time.

    Raises:
        NotColumnar: no ``.wandb`` log, no wandb to decode it with, or a log this reading does
            not take: read the folder with ``read_run_dir``.
        MetricSourceError: the log is not a wandb log, or ``files/wandb-summary.json`` is not
            valid JSON.
        OSError: a file cannot be read.
    """
    import polars as pl

    log_file = next(iter(sorted(run_path.glob("*.wandb"))), None)
    if log_file is None:
        raise NotColumnar("no .wandb log")
    try:
        from wandb.proto import wandb_internal_pb2 as proto
    except ImportError:
        raise NotColumnar("no wandb to decode the log with") from None
    types = _column_types()
    try:
        payloads = types.payloads.FromString(b"".join(log_records(log_file.read_bytes())))
    except MetricSourceError as error:  # not a wandb log, or damaged: nothing is trusted
        raise MetricSourceError(f"{log_file}: {error}") from None
    except Exception:  # a torn or foreign record: the reference skips it and reads the rest
        raise NotColumnar("a record protobuf cannot parse") from None
    if len(payloads.run) > 1:  # which comes first, run or config records, would matter
        raise NotColumnar("more than one run record")
    log = WandbLog(curve=_empty_curve())
    for payload in payloads.run:
        run = proto.RunRecord.FromString(payload)  # type: ignore[attr-defined]
        log.group = run.run_group or None
        log.name = run.display_name or None
        if run.HasField("start_time"):
            log.started_at = run.start_time.seconds + run.start_time.nanos / 1e9
        update_config(log.config, run.config)
    for payload in payloads.config:
        update_config(log.config, proto.ConfigRecord.FromString(payload))  # type: ignore[attr-defined]
    for payload in payloads.exit:
        log.exit_code = int(proto.RunExitRecord.FromString(payload).exit_code)  # type: ignore[attr-defined]

    history = _history(payloads.history, types)
    final = _summary(payloads.summary, types)
    summary_file = run_path / "files" / "wandb-summary.json"
    if summary_file.is_file():
        try:
            final.update(json.loads(summary_file.read_text()))
        except json.JSONDecodeError as error:  # the reference's words
            raise MetricSourceError(f"{summary_file} is not valid JSON: {error}") from None
    last_step = int(history["step"].max() or 0) if history.height else 0  # type: ignore[arg-type]
    # each metric's last value in the order logged, which the summary's final values are
    # compared with (the reference's summary_rows)
    last = dict(zip(history["name"].to_list(), history["value"].to_list(), strict=True))
    extra = [
        {"step": last_step, "name": name, "value": float(value)}
        for row in summary_rows(final, [{"step": last_step, **last}])
        for name, value in row.items()
        if name != "step"
    ]
    if extra:
        history = pl.concat([history, pl.DataFrame(extra, schema=history.schema)])
    log.curve = curve_from_columns(history["step"], history["name"], history["value"])
    return log


def _history(payloads: Sequence[bytes], types: _Types) -> pl.DataFrame:
    """The history records' public numbers, in the order logged: ``step``, ``name``, ``value``."""
    import polars as pl

    schema = {"step": pl.Int64, "name": pl.String, "value": pl.Float64}
    if not payloads:
        return pl.DataFrame(schema=schema)
    parts = types.parts.FromString(RECORD_END.join(payloads) + RECORD_END)
    steps = _record_steps(parts.step, types)
    names, texts = _item_columns(parts.item, types)
    if len(names) != len(texts):
        raise NotColumnar("items whose keys do not line up with their values")
    items = pl.DataFrame(
        {"name": names, "text": texts}, schema={"name": pl.String, "text": pl.String}
    )
    items = items.with_columns(
        record=(pl.col("name") == RECORD_MARK).cum_sum().cast(pl.Int64)
    ).filter(~pl.col("name").str.starts_with("_") & (pl.col("name") != RECORD_MARK))
    if (items["name"] == "step").any():  # the reference lets a metric named step be the step
        raise NotColumnar("a metric named step")
    items = items.with_columns(
        step=pl.Series(steps, dtype=pl.Int64).gather(items["record"]),
        value=pl.col("text").cast(pl.Float64, strict=False),
    )
    if items["value"].null_count():
        return _with_non_numbers(items)
    return items.select("step", "name", "value")


def _record_steps(parts: Sequence[bytes], types: _Types) -> list[int]:
    """Each history record's step (its HistoryStep: empty for step 0, else ``num``'s field)."""
    per_record: list[bytes] = []
    current: bytes | None = None
    for part in parts:
        if part == RECORD_END_STEP:
            if current is None:  # a record without its step: wandb's _step item says it
                raise NotColumnar("a history record without its step")
            per_record.append(current)
            current = None
        else:
            current = part
    numbers = list(types.steps.FromString(b"".join(per_record)).num)
    if len(numbers) != sum(1 for part in per_record if part):
        raise NotColumnar("a history step of more than its number")
    found = iter(numbers)
    return [next(found) if part else 0 for part in per_record]


def _item_columns(items: Sequence[bytes], types: _Types) -> tuple[list[str], list[str]]:
    """Items' keys (the parts of a nested one joined with "/") and JSON values, as two columns."""
    import polars as pl

    if not items:
        return [], []
    columns = types.items.FromString(ITEM_SEPARATOR.join(items))
    # every item's nested key between slashes, items apart at the marks: "/a/b/", "/c/" ...;
    # an item without one (its key is flat) leaves "/"
    joined = pl.Series(("/" + "/".join(columns.nested_key) + "/").split(ITEM_MARK))
    if len(joined) != len(items):
        raise NotColumnar("a key holding the item mark")
    names = joined.str.strip_prefix("/").str.strip_suffix("/")
    flat = (joined == "/").arg_true()
    if len(flat) != len(columns.key):
        raise NotColumnar("items with a flat and a nested key, or neither")
    if len(flat):
        names = names.scatter(flat, pl.Series(list(columns.key), dtype=pl.String))
    return names.to_list(), list(columns.value_json)


def _summary(payloads: Sequence[bytes], types: _Types) -> dict[str, Any]:
    """The summary: each key's last value, decoded from JSON."""
    if not payloads:
        return {}
    parts = types.parts.FromString(b"".join(payloads))  # updates (1) and removals (2)
    if parts.step:
        raise NotColumnar("a summary key removed: the order of updates and removals matters")
    names, texts = _item_columns(parts.item, types)
    if len(names) != len(texts):
        raise NotColumnar("items whose keys do not line up with their values")
    summary: dict[str, Any] = {}
    for name, text in dict(zip(names, texts, strict=True)).items():
        if name.startswith("_"):  # wandb's own (_step, _runtime, _wandb/runtime ...)
            continue
        try:
            summary[name] = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            continue
    return summary


def _with_non_numbers(items: pl.DataFrame) -> pl.DataFrame:
    """The items with each value that is no plain number decoded as the reference does (the
    numbers in a dict of them, under ``key/inner``; text and the rest left out)."""
    import polars as pl

    rows: list[tuple[int, str, float]] = []
    for step, name, text, value in items.select("step", "name", "text", "value").iter_rows():
        if value is not None:
            rows.append((step, name, value))
            continue
        try:
            found = public_numbers({name: json.loads(text)})
        except (json.JSONDecodeError, RecursionError):
            continue
        rows += [(step, key, number) for key, number in found.items()]
    return pl.DataFrame(
        rows, schema={"step": pl.Int64, "name": pl.String, "value": pl.Float64}, orient="row"
    )


def _empty_curve() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema={"step": pl.Int64})


@dataclass(frozen=True)
class _Types:
    payloads: Any
    parts: Any
    items: Any
    steps: Any


@cache
def _column_types() -> _Types:
    """The message types that read a log's records as columns: each field of wandb's own
    messages (wandb_internal.proto) that is read, at its number, as repeated bytes or strings,
    so that protobuf appends what every record holds to one list."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(
        name="harness_wandb_columns.proto", package="harness_wandb_columns", syntax="proto3"
    )
    kinds = {
        "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    }
    declared = {
        # Record: a payload per record of each kind read
        "payloads": [
            ("history", 2, "bytes"),
            ("summary", 3, "bytes"),
            ("config", 5, "bytes"),
            ("run", 17, "bytes"),
            ("exit", 18, "bytes"),
        ],
        # HistoryRecord's items and step; SummaryRecord's updates and removals
        "parts": [("item", 1, "bytes"), ("step", 2, "bytes")],
        # HistoryItem's and SummaryItem's key, nested key and value
        "items": [("key", 1, "string"), ("nested_key", 2, "string"), ("value_json", 16, "string")],
        # HistoryStep's number
        "steps": [("num", 1, "int64")],
    }
    for name, fields in declared.items():
        proto.message_type.add(
            name=name,
            field=[
                descriptor_pb2.FieldDescriptorProto(
                    name=field_name,
                    number=number,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
                    type=kinds[kind],
                )
                for field_name, number, kind in fields
            ],
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return _Types(
        **{
            name: message_factory.GetMessageClass(
                pool.FindMessageTypeByName(f"harness_wandb_columns.{name}")
            )
            for name in declared
        }
    )
