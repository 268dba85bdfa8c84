"""The metrics file of a run (``metrics.jsonl``): its one writer and its readers.

One JSON object per line, each with a ``"step"`` and metric values, appended while the run
runs. :class:`MetricsLog` writes it (the worker hands it to the trainer, and writes the rows of
a command's declared sources through it); :func:`read_metrics_checked` reads it at the end of
a run, saying which lines it skipped; :func:`read_metrics` reads it leniently (tune, curves);
:class:`MetricsTail` follows it while it grows (progress, wandb forwarding). Every reader
parses lines the same way (:func:`parse_rows`).
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.store.atomic import atomic_write_text
from harness.store.records import first_non_finite


class MetricsLog:
    """Appends metric rows to ``metrics.jsonl``, one flushed JSON line each, and forwards them."""

    def __init__(self, path: Path, forward: Callable[[dict[str, Any]], None] | None = None):
        self.path = path
        self.forward = forward
        self._handle: Any = None
        self.latest: dict[str, Any] = {}  # of the rows written by write_rows
        self.size = 0  # the file's length when it was closed
        self.non_finite: tuple[int | None, str, float] | None = None

    def __enter__(self) -> MetricsLog:
        self._handle = self.path.open("a")
        return self

    def __call__(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()
        if self.forward is not None:
            self.forward(row)

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        """Append many rows with one write (a parsed output may bring thousands at a time),
        keeping the last value of each metric and the first non-finite one as they pass, so
        that a run of a million rows need not read its file back."""
        text = "".join(map(encode_row, rows))
        self._handle.write(text)
        self._handle.flush()
        collections.deque(map(self.latest.update, rows), maxlen=0)  # in C: no Python loop
        # json spells non-finite numbers NaN / Infinity: only such a batch needs a closer look
        # (and values past 1e16 are written with an exponent: only those can be too large)
        if self.non_finite is None and ("NaN" in text or "Infinity" in text or "e+" in text):
            self.non_finite = first_non_finite(rows)
        if self.forward is not None:
            for row in rows:
                self.forward(row)

    def drop_metrics(self, names: set[str]) -> None:
        """Take ``names`` out of every row written so far (a row left with only its step goes),
        rewriting the file atomically: a metric one source reported that another one owns
        (:mod:`harness.worker.command`, "auto" yielding to a declared source).

        Raises:
            OSError: the file could not be rewritten (its old content is kept).
        """
        self._handle.flush()
        kept = []
        for row in read_metrics(self.path):
            trimmed = {key: value for key, value in row.items() if key not in names}
            if trimmed.keys() - {"step"}:
                kept.append(trimmed)
        self._handle.close()
        try:
            atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in kept))
        finally:
            self._handle = self.path.open("a")
        for name in names:
            self.latest.pop(name, None)
        if self.non_finite is not None and self.non_finite[1] in names:
            self.non_finite = first_non_finite(kept)

    def __exit__(self, *exc: object) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.size = os.fstat(self._handle.fileno()).st_size
        self._handle.close()


def encode_row(row: dict[str, Any]) -> str:
    """A metrics row as one JSON line, as ``json.dumps`` writes it (``NaN`` for nan), faster
    for the usual row of numbers under keys seen before."""
    keys = tuple(row)
    template = _ROW_TEMPLATES.get(keys)
    if template is None:
        template = "{" + ", ".join(f"{json.dumps(k)}: %r" for k in keys) + "}\n"
        _ROW_TEMPLATES[keys] = template
    values = tuple(row.values())
    # %r spells a plain int or float as JSON does; not a bool ("True") nor a numpy scalar
    # ("np.float64(0.5)" under numpy 2), which would make the line unreadable.
    if all(type(value) in _PLAIN_NUMBERS for value in values):
        total = sum(values)
        if total - total == 0:  # every value finite (a sum with nan or inf is not)
            return template % values
    # non-finite, non-numeric or numpy values: json's own spelling
    return json.dumps(row, default=_plain_scalar) + "\n"


_PLAIN_NUMBERS = (int, float)


def _plain_scalar(value: Any) -> Any:
    """A numpy (or torch) scalar as the Python number it holds, for ``json.dumps``."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"a metrics value must be a number or a string, not {type(value).__name__}")


_ROW_TEMPLATES: dict[tuple[str, ...], str] = {}


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a ``metrics.jsonl`` file; lines that cannot be read (torn by a crash
    mid-write, not UTF-8, not JSON objects) are skipped (:func:`read_metrics_checked` says
    which)."""
    if not path.exists():
        return []
    return parse_rows(path.read_bytes().splitlines())


@dataclass(frozen=True, kw_only=True)
class MetricsRead:
    """A ``metrics.jsonl`` as read at the end of a run.

    Attributes:
        rows: the JSON objects of its lines, in order.
        skipped: one description per line left out (``"line 3: not UTF-8 ..."``).
        error: why the file could not be read at all (it is a directory, unreadable ...).
        size: how many bytes were read: the record notes it (``metrics_bytes``), and a
            reader of the finished run's curve reads no further.
    """

    rows: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    size: int = 0


MAX_SKIPPED_SHOWN = 5


def read_metrics_checked(path: Path) -> MetricsRead:
    """The rows of ``metrics.jsonl`` and what could not be read, never raising.

    Blank lines are no rows and no problem; any other line that is not a JSON object (torn,
    not UTF-8, a list) is skipped and described.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return MetricsRead(rows=[])
    except OSError as error:
        return MetricsRead(rows=[], error=f"{path} cannot be read: {error.strerror or error}")
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        row, problem = _parse_line(line)
        if row is not None:
            rows.append(row)
        else:
            skipped.append(f"line {number}: {problem}")
    return MetricsRead(rows=rows, skipped=skipped, size=len(data))


def describe_skipped(path: Path, skipped: list[str]) -> str:
    """One message for the skipped lines of a metrics file (the first few named)."""
    shown = "; ".join(skipped[:MAX_SKIPPED_SHOWN])
    more = (
        f"; and {len(skipped) - MAX_SKIPPED_SHOWN} more" if len(skipped) > MAX_SKIPPED_SHOWN else ""
    )
    return f"{path.name}: {len(skipped)} line(s) could not be read and were skipped ({shown}{more})"


def parse_rows(lines: list[bytes]) -> list[dict[str, Any]]:
    """The JSON objects among ``lines``; blank, torn, undecodable or non-object lines are
    skipped."""
    rows = []
    for line in lines:
        row, _ = _parse_line(line)
        if row is not None:
            rows.append(row)
    return rows


def _parse_line(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """A line's JSON object, or None and why not."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 (byte {line[error.start]:#04x} at position {error.start})"
    try:
        row = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not valid JSON ({error.msg} at column {error.colno})"
    except (ValueError, RecursionError) as error:  # digits past int's limit, deep nesting
        return None, f"not readable JSON ({str(error)[:80]})"
    if not isinstance(row, dict):
        return None, f"a JSON {type(row).__name__}, not an object"
    return row, ""


class MetricsTail:
    """Reads the rows appended to a ``metrics.jsonl`` since the last call.

    Only complete lines are read: a line still being written waits for the next call.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_rows(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        return parse_rows(complete.splitlines())
