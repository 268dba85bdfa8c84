"""Metrics from a script that logs to wandb itself (``wandb = true`` in its ``metrics`` table).

Before the command starts, :func:`wandb_env` tells the script's own ``wandb.init`` where and
how to log: its files under the run directory, grouped by study, named after the variant and
seed, and with a run id that is stable per run, so a rerun resumes the same wandb run instead of
adding one. harness starts no wandb run of its own for such a run.

The script's wandb is its own: :func:`without_wandb_internals` keeps harness's wandb service
(``WANDB_SERVICE``, which the warm worker and harness's own ``wandb.init`` put in the worker's
environment) out of the command's environment, so the script starts its own wandb service,
whatever its wandb version, and its run is written out completely when the script exits, with
or without ``wandb.finish()``. (Joined to harness's service, a script that relied on wandb's
exit hook left a run with no rows until harness itself exited.)

After the command ends, :func:`read_wandb_run` reads the values back from wandb's files: the
final values from ``files/wandb-summary.json`` (written online) or the summary records of the
run's ``.wandb`` log (always written), and the history from that log when wandb's own protobuf
module can be imported to decode it. :func:`read_finished_wandb_run` first waits, briefly, for
the log's end-of-run (exit) record.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.worker.metric_sources import MetricSourceError, Row, flatten_numbers

# The .wandb file is a LevelDB-style log: a 7-byte file header (":W&B", magic, version), then
# 32 KiB blocks of records, each a 7-byte header (crc32, length, type) and a chunk of one
# protobuf ``Record``: type 1 a whole record, 2/3/4 its first, middle and last chunks.
WANDB_FILE_HEADER = b":W&B"
# The log format version this reader knows (wandb's LEVELDBLOG_HEADER_VERSION, 0 from wandb
# 0.10 to 0.31 at least: 0.15 and 0.19 logs read here were checked).
WANDB_LOG_VERSION = 0
BLOCK_SIZE = 32 * 1024
RECORD_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_TAG_LENGTH = 64
# How long a script's wandb run may take, after the command exited, to write its end-of-run
# record (wandb's service flushes the log as the script exits; seconds on a loaded machine).
END_OF_RUN_WAIT_S = 15.0
END_OF_RUN_POLL_S = 0.2
# Variables by which a process reaches a running wandb service (wandb-core): wandb sets
# WANDB_SERVICE when it starts one (0.18 and later); older versions used WANDB__SERVICE*
# (``_service_transport``, ...). A command never gets them: its wandb starts its own service.
WANDB_SERVICE_VARS = ("WANDB_SERVICE",)
WANDB_SERVICE_PREFIXES = ("WANDB__SERVICE", "_WANDB_SERVICE")


@dataclass(frozen=True, kw_only=True)
class WandbRun:
    """What a script's wandb run left in its files.

    Attributes:
        path: the run's directory (``<WANDB_DIR>/wandb/offline-run-...-<id>``).
        run_id: its id.
        group: its group, when the ``.wandb`` log could be decoded.
        rows: its history (one row per logged step) and a last row with the summary values
            that differ from the history's last ones.
        name: its display name, when the log could be decoded.
        config: its config (``wandb.config``, wandb's own ``_wandb`` key left out), when the
            log could be decoded.
        exit_code: the exit code the run finished with; None when it never finished (still
            running, or killed) or the log could not be decoded.
        started_at: when it started (seconds since the epoch), when the log could be decoded.
        undecodable: why its ``.wandb`` log could not be decoded here (None: it could, or
            there was none); its values then come from ``wandb-summary.json`` alone.
    """

    path: Path
    run_id: str
    group: str | None = None
    rows: list[Row] = field(default_factory=list)
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    started_at: float | None = None
    undecodable: str | None = None


class UnknownLogFormat(Exception):
    """A ``.wandb`` log in a format version this reader does not know (a newer wandb's)."""


def without_wandb_internals(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables that connect a process to a running wandb service.

    Args:
        env: an environment, such as the worker's ``os.environ``.

    Returns:
        A copy without :data:`WANDB_SERVICE_VARS` and the names starting with
        :data:`WANDB_SERVICE_PREFIXES`; every other variable (the user's ``WANDB_*``
        included) is kept.
    """
    return {
        name: value
        for name, value in env.items()
        if name not in WANDB_SERVICE_VARS and not name.startswith(WANDB_SERVICE_PREFIXES)
    }


def wandb_run_id(*, study: str, variant: str, seed: int, config_hash: str) -> str:
    """The run's wandb id: the same for every attempt at one run, so a rerun resumes it."""
    text = f"{study}/{variant}/{seed}/{config_hash}"
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:15]


def wandb_env(
    *,
    study: str,
    variant: str,
    seed: int,
    run_dir: Path,
    run_id: str,
    mode: str,
    project: str | None = None,
    entity: str | None = None,
    job_type: str = "study",
) -> dict[str, str]:
    """The environment that points a script's own ``wandb.init`` at this run.

    Args:
        study: the study name: the wandb group.
        variant: the variant: a tag; with the seed, the run name.
        seed: the run's seed.
        run_dir: the run directory: ``WANDB_DIR``, so wandb's files stay with the run.
        run_id: :func:`wandb_run_id`.
        mode: the resolved wandb mode; "disabled" becomes "offline", because harness reads
            the values back from the files (offline keeps everything on this machine).
        project: the study's wandb project, used when the script names none.
        entity: the wandb entity, when configured.
        job_type: the harness command that started the run (``wandb_sink.JOB_TYPES``), as for
            built-in runs, so study, tune and bisect runs can be told apart.

    Returns:
        ``WANDB_*`` variables; arguments the script passes to ``wandb.init`` still win.
    """
    env = {
        "WANDB_DIR": str(run_dir),
        "WANDB_RUN_GROUP": study,
        "WANDB_NAME": f"{variant}-s{seed}",
        "WANDB_JOB_TYPE": job_type,
        # The same tags as a built-in run's (wandb_sink.WandbSink): the study and the variant.
        "WANDB_TAGS": ",".join([study[:MAX_TAG_LENGTH], variant[:MAX_TAG_LENGTH]]),
        "WANDB_MODE": "offline" if mode in ("disabled", "") else mode,
        "WANDB_RUN_ID": run_id,
        "WANDB_RESUME": "allow",
    }
    if project:
        env["WANDB_PROJECT"] = project
    if entity:
        env["WANDB_ENTITY"] = entity
    return env


def read_wandb_run(wandb_dir: Path, run_id: str) -> WandbRun:
    """Read back the metrics of the wandb run ``run_id`` written under ``wandb_dir``.

    The latest attempt's directory for ``run_id`` is read; when the script chose its own id,
    the latest run directory there.

    Raises:
        MetricSourceError: no wandb run directory, or one from which no value can be read.
    """
    return read_run_dir(find_run_dir(wandb_dir, run_id))


def read_finished_wandb_run(
    wandb_dir: Path, run_id: str, *, wait_s: float | None = None
) -> tuple[WandbRun, str | None]:
    """:func:`read_wandb_run` once the run's log holds its end-of-run (exit) record, waiting
    up to ``wait_s`` seconds for it.

    Args:
        wandb_dir: the directory the script's ``WANDB_DIR`` named (the run directory).
        run_id: :func:`wandb_run_id`.
        wait_s: the longest wait for the exit record; None: :data:`END_OF_RUN_WAIT_S`.

    Returns:
        The run as read last, and None when it had its exit record (or its log cannot be
        decoded here, so no record can be looked for), else a sentence saying the record
        never came.

    Raises:
        MetricSourceError: no wandb run directory, or one from which no value can be read.
    """
    wait_s = END_OF_RUN_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    while True:
        run = read_wandb_run(wandb_dir, run_id)
        if run.exit_code is not None or not _can_decode() or run.undecodable is not None:
            return run, None
        if time.monotonic() >= deadline:
            return run, (
                f"the wandb run in {run.path} has no end-of-run record {wait_s:g} s after the "
                "command exited (its wandb process was killed, or is still writing): "
                f"{len(run.rows)} row(s) read, later ones may be missing"
            )
        time.sleep(END_OF_RUN_POLL_S)


def _can_decode() -> bool:
    try:
        from wandb.proto import wandb_internal_pb2  # noqa: F401
    except ImportError:
        return False
    return True


def read_run_dir(run_path: Path) -> WandbRun:
    """Read one wandb run directory (``wandb/run-...`` or ``wandb/offline-run-...``).

    Raises:
        MetricSourceError: no value can be read from it.
    """
    log_file = next(iter(sorted(run_path.glob("*.wandb"))), None)
    log = DecodedLog()
    undecodable = None
    if log_file is not None:
        try:
            log = decode_log(log_file.read_bytes())
        except ImportError:  # no protobuf module: the summary file alone
            undecodable = "wandb's protobuf module is missing"
        except UnknownLogFormat as error:  # a newer wandb's log: the summary file alone
            undecodable = f"{log_file.name}: {error}"
        except MetricSourceError as error:  # not a wandb log, or damaged: nothing is trusted
            raise MetricSourceError(f"{log_file}: {error}") from None
    decoded = log_file is not None and undecodable is None
    history, summary = log.history, log.summary
    summary_file = run_path / "files" / "wandb-summary.json"
    if summary_file.is_file():
        try:
            summary.update(json.loads(summary_file.read_text()))
        except (json.JSONDecodeError, OSError) as error:
            raise MetricSourceError(f"{summary_file} is not valid JSON: {error}") from None
    if not decoded and not summary_file.is_file():
        raise MetricSourceError(
            f"the wandb run in {run_path} has no wandb-summary.json and its .wandb log cannot be "
            f"decoded here ({undecodable or 'there is none'})"
        )
    rows = history + summary_rows(summary, history)
    return WandbRun(
        path=run_path,
        run_id=run_path.name.rsplit("-", 1)[-1],
        group=log.group,
        rows=rows,
        name=log.name,
        config=log.config,
        exit_code=log.exit_code,
        started_at=log.started_at,
        undecodable=undecodable,
    )


def find_run_dir(wandb_dir: Path, run_id: str) -> Path:
    """The directory of the latest attempt at ``run_id`` under ``wandb_dir/wandb``.

    Raises:
        MetricSourceError: wandb wrote no run there.
    """
    root = wandb_dir / "wandb"
    runs = [p for p in root.glob("*run-*") if p.is_dir()] if root.is_dir() else []
    if not runs:
        raise MetricSourceError(
            f"the command left no wandb run in {root} (WANDB_DIR is the run directory): did "
            "it call wandb.init, or pass its own dir= to it?"
        )
    ours = [p for p in runs if p.name.endswith(f"-{run_id}")]
    # offline-run-20240101_120000-<id> and run-20240101_120000-<id>: order by the timestamp
    return max(ours or runs, key=lambda p: (p.name.split("-")[-2], p.stat().st_mtime))


@dataclass
class DecodedLog:
    """What a ``.wandb`` log holds, as :func:`decode_log` gathers it."""

    history: list[Row] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    started_at: float | None = None


def decode_log(data: bytes) -> DecodedLog:
    """Read a ``.wandb`` log record by record (the bytes of the whole file).

    Args:
        data: the file's bytes, as wandb wrote them (a torn end is dropped).

    Returns:
        its history rows (numbers only, with their steps), summary, config, group, name,
        exit code and start time.
    """
    from wandb.proto import wandb_internal_pb2  # raises ImportError without wandb

    log = DecodedLog()
    history, summary = log.history, log.summary
    summary_text: dict[str, str] = {}
    for chunk in log_records(data):
        record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
        try:
            record.ParseFromString(chunk)
        except Exception:  # a torn or foreign record: skip it, keep the rest
            continue
        kind = record.WhichOneof("record_type")
        if kind == "run":
            log.group = record.run.run_group or log.group
            log.name = record.run.display_name or log.name
            if record.run.HasField("start_time"):
                log.started_at = record.run.start_time.seconds + record.run.start_time.nanos / 1e9
            update_config(log.config, record.run.config)
        elif kind == "config":
            update_config(log.config, record.config)
        elif kind == "exit":
            log.exit_code = int(record.exit.exit_code)
        elif kind == "history":
            row, step = _history_row(record.history)
            if row:
                history.append({"step": step if step is not None else len(history), **row})
        elif kind == "summary":
            # wandb writes a summary record per logged step: keep each key's latest text and
            # decode it once at the end
            for item in record.summary.update:
                summary_text[_key(item)] = item.value_json
            for item in record.summary.remove:
                summary_text.pop(_key(item), None)
    for key, text in summary_text.items():
        try:
            summary[key] = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            continue
    return log


def _history_row(record: Any) -> tuple[Row, int | None]:
    """A history record's public numbers (wandb's own ``_`` keys left out) and its step.

    Most values are plain numbers, which ``float`` reads without a JSON parse (NaN and
    Infinity included); the rest (tables of numbers, text) go through ``json``.
    """
    step = record.step.num if record.HasField("step") else None
    row: Row = {}
    for item in record.item:
        key = _key(item)
        text = item.value_json
        if key.startswith("_"):
            if key == "_step" and step is None:
                value = _json(text)
                step = int(value) if isinstance(value, int | float) else None
            continue
        try:
            row[key] = float(text)
        except ValueError:
            row.update(public_numbers({key: _json(text)}))
    return row, step


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None


def update_config(config: dict[str, Any], change: Any) -> None:
    """Apply a ``ConfigRecord`` (its updates and removals) to ``config``; wandb's own
    ``_wandb`` entry is no config of the run's."""
    for key, value in _items(change.update).items():
        if not key.startswith("_wandb"):
            config[key] = value
    for item in change.remove:
        config.pop(_key(item), None)


def log_records(data: bytes) -> list[bytes]:
    """The record chunks of a ``.wandb`` log, reassembled, each checked against its CRC-32.

    A torn end is dropped: a last record cut short, or records from the first one that fails
    its checksum to the end, when no record after it passes (what a crash while writing leaves,
    zeros included). A record that fails while a later one passes is damage in the middle of the
    log, and nothing of it is trusted.

    Raises:
        MetricSourceError: not a wandb log; :class:`DamagedLog` for damage in the middle.
        UnknownLogFormat: a log format version this reader does not know.
    """
    if not data.startswith(WANDB_FILE_HEADER):
        raise MetricSourceError("not a wandb log (no :W&B header)")
    if len(data) >= 7 and data[6] != WANDB_LOG_VERSION:
        raise UnknownLogFormat(
            f"written in wandb's log format version {data[6]}, which this reader (with wandb "
            f"{_wandb_version()}) does not know; upgrade wandb in harness's environment to the "
            "script's version (or newer) to read its history"
        )
    records, pending = [], b""
    for position, checksum, kind, chunk in _chunks(data, 7):
        if not _intact(checksum, kind, chunk):
            _raise_if_more_follows(data, position)
            break
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
            pending = b""
    return records


class DamagedLog(MetricSourceError):
    """A ``.wandb`` log with a record that fails its checksum while later ones pass."""


# wandb's checksum of a chunk: CRC-32 (zlib's) of the record type byte, then of the chunk
_TYPE_CRC = {kind: zlib.crc32(bytes([kind])) for kind in range(256)}


def _intact(checksum: int, kind: int, chunk: bytes) -> bool:
    """Whether a chunk matches the checksum its header gives."""
    return zlib.crc32(chunk, _TYPE_CRC[kind]) == checksum


def _chunks(data: bytes, start: int) -> Iterator[tuple[int, int, int, bytes]]:
    """(header position, checksum, record type, chunk) of each whole chunk from ``start`` on."""
    position = start
    while position + RECORD_HEADER.size <= len(data):
        left = BLOCK_SIZE - position % BLOCK_SIZE
        if left < RECORD_HEADER.size:  # the block's zero-padded tail
            position += left
            continue
        checksum, length, kind = RECORD_HEADER.unpack_from(data, position)
        chunk = data[position + RECORD_HEADER.size : position + RECORD_HEADER.size + length]
        if len(chunk) < length:
            return
        yield position, checksum, kind, chunk
        position += RECORD_HEADER.size + length


def _raise_if_more_follows(data: bytes, failed_at: int) -> None:
    """Raise :class:`DamagedLog` when a record after the one at ``failed_at`` passes its
    checksum: the next one, if the failing record's length is right (its data was changed),
    else the first of a later block (wandb's writer starts a chunk at every block boundary)."""
    length = RECORD_HEADER.unpack_from(data, failed_at)[1]
    starts = [failed_at + RECORD_HEADER.size + length]
    starts += range((failed_at // BLOCK_SIZE + 1) * BLOCK_SIZE, len(data), BLOCK_SIZE)
    for start in starts:
        first = next(_chunks(data, start), None)
        if first is not None and _intact(*first[1:]):
            raise DamagedLog(
                f"damaged wandb log: the record at byte {failed_at} fails its checksum, and "
                "records after it pass (the file was changed after wandb wrote it)"
            )


def _wandb_version() -> str:
    try:
        import wandb

        return str(wandb.__version__)
    except ImportError:
        return "not installed"


def _items(items: Any) -> dict[str, Any]:
    values = {}
    for item in items:
        try:
            values[_key(item)] = json.loads(item.value_json)
        except (json.JSONDecodeError, RecursionError):
            continue
    return values


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else str(item.key)


def public_numbers(values: dict[str, Any]) -> Row:
    """The numbers among ``values``, without wandb's own (``_step``, ``_runtime``, ...)."""
    return {
        k: float(v)
        for k, v in flatten_numbers(
            {k: v for k, v in values.items() if not k.startswith("_")}
        ).items()
    }


def summary_rows(summary: dict[str, Any], history: list[Row]) -> list[Row]:
    """The run's summary as one row at its last step, holding only the numbers the history
    does not end with (a value logged once at the end, or changed in the summary); none when
    the summary adds nothing."""
    last: dict[str, float] = {}
    for row in history:
        last.update({k: v for k, v in row.items() if k != "step"})
    final = {
        k: v for k, v in public_numbers(summary).items() if k not in last or not _same(last[k], v)
    }
    if not final:
        return []
    step = max((int(row["step"]) for row in history), default=0)
    return [{"step": step, **final}]


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
