"""Metrics from what a training script prints or writes, as rows of the one curve format.

A row is what a line of ``metrics.jsonl`` holds: ``{"step": 100, "train_loss": 2.31}``. The
worker writes every row these parsers return to the run's ``metrics.jsonl``, so the store,
``harness compare``, reports, sequential testing, tuning and bisect read a printed loss exactly
like one the built-in trainer logged.

- :class:`LineParser`: the ``stdout`` (or ``log``) patterns of a ``metrics`` table, applied
  to the lines of the output ("auto": :mod:`harness.worker.auto_metrics`); :class:`TextStream`
  feeds it bytes as they come, in any chunks.
- :func:`read_results_file`: a ``.json``, ``.jsonl`` or ``.csv`` results file.

Parsers never raise on what a script prints: a line is a row or nothing. A results file that
cannot be read raises :class:`MetricSourceError` with a message for the run's record.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.study.metrics import AUTO, STEP_GROUP, compile_pattern, metric_name
from harness.worker.auto_metrics import AutoParser, line_step

Row = dict[str, Any]


class MetricSourceError(Exception):
    """A declared source that cannot be read (a missing or malformed file)."""


class LineParser:
    """Rows from the lines of a script's output: the ``stdout`` patterns of a ``metrics`` table.

    Args:
        patterns: "auto" for the pairs a script's logs show to be metrics
            (:mod:`harness.worker.auto_metrics`), or regexes whose named groups are metrics
            (``val__loss`` is ``val/loss``).
        cache_shapes: "auto" reads a line of a shape it has seen by that shape's own regex
            (the same rows, faster; off only to check that).

    A regex row's step is its group ``step``, else the step the line printed (``step 100``,
    ``iter 200``), else the number of the output line (a curve's axis is then "log line").
    """

    def __init__(self, patterns: str | Iterable[str], *, cache_shapes: bool = True) -> None:
        self.auto = patterns == AUTO
        self._auto = AutoParser(cache_shapes=cache_shapes) if self.auto else None
        self.patterns: list[re.Pattern[str]] = (
            []
            if self.auto
            else [
                compile_pattern(p, key="metrics.stdout", index=i)
                for i, p in enumerate(patterns)  # type: ignore[arg-type]
            ]
        )
        # per pattern: the position of `step` in match.groups(), and (position, metric) pairs
        self._layout = [
            (
                p.groupindex[STEP_GROUP] - 1 if STEP_GROUP in p.groupindex else None,
                [(i - 1, metric_name(g)) for g, i in p.groupindex.items() if g != STEP_GROUP],
            )
            for p in self.patterns
        ]
        self._line = 0  # lines read so far
        self._numbered_rows = 0  # at their line number: no step printed

    def parse(self, line: str) -> list[Row]:
        """The rows in ``line``: one per pattern that matches it (auto: one for all pairs)."""
        return self.parse_lines([line])

    def parse_lines(self, lines: list[str]) -> list[Row]:
        """The rows in ``lines``, the next lines of the output, in order (the loop of
        :meth:`parse`, kept tight: a script may print millions of lines)."""
        if self._auto is not None:
            return self._auto.parse_lines(lines)
        first = self._line + 1
        self._line += len(lines)
        if len(self.patterns) == 1:
            found = enumerate(map(self.patterns[0].search, lines), first)
            return self._matches_rows(0, [(number, m) for number, m in found if m])
        rows: list[Row] = []
        for number, line in enumerate(lines, first):
            for index, pattern in enumerate(self.patterns):
                match = pattern.search(line)
                if match is not None:
                    rows += self._matches_rows(index, [(number, match)])
        return rows

    def finish(self) -> list[Row]:
        """The rows the end of the output gives (auto may hold lines back until it knows)."""
        return self._auto.finish() if self._auto is not None else []

    def numbered_only(self, rows: int) -> bool:
        """Whether all of its ``rows`` rows (as many as it gave) are at their line numbers:
        no line printed a step, so a curve's axis is "log line"."""
        numbered = self._auto.numbered_rows if self._auto is not None else self._numbered_rows
        return rows > 0 and numbered == rows

    def _matches_rows(self, index: int, matches: list[tuple[int, re.Match[str]]]) -> list[Row]:
        step_position, named = self._layout[index]
        rows: list[Row] = []
        append = rows.append
        for number, match in matches:
            groups = match.groups()
            row: Row = {"step": 0}  # first, as every row of metrics.jsonl has it
            for position, name in named:
                text = groups[position]
                if text is not None:
                    try:  # noqa: SIM105 - a with-statement costs more in this loop
                        row[name] = float(text)
                    except (ValueError, OverflowError):
                        pass
            if len(row) == 1:
                continue
            step = None
            if step_position is not None and (text := groups[step_position]) is not None:
                try:
                    step = int(text)
                except ValueError:
                    step = _step(_number(text))
                if step is not None and abs(step) > MAX_STEP:
                    step = None
            if step is None:
                step = line_step(match.string)
            if step is None:
                step = number
                self._numbered_rows += 1
            row["step"] = step
            append(row)
        return rows


# A line longer than this is no metrics line (a dump, a progress bar gone wrong): it is not
# parsed, so that a command printing gigabytes without a newline cannot fill the memory.
MAX_LINE_BYTES = 1 << 20


class TextStream:
    """Feeds a :class:`LineParser` bytes in any chunks; ``\\n``, ``\\r\\n`` and ``\\r`` (progress
    bars) end lines, and undecodable bytes are replaced, never raised. A line longer than
    :data:`MAX_LINE_BYTES` is skipped."""

    def __init__(self, parser: LineParser) -> None:
        self.parser = parser
        self._partial = b""
        self._overlong = False  # inside a line already too long: drop it up to its end

    def feed(self, chunk: bytes) -> list[Row]:
        """The rows of the complete lines ``chunk`` ends; a partial last line waits."""
        data = self._partial + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if 0 <= cut == len(data) - 1 and data[cut] == 13:  # a `\r` a `\n` may follow: wait
            cut = max(data.rfind(b"\n", 0, cut), data.rfind(b"\r", 0, cut))
        if cut < 0:
            self._partial = data
            if len(data) > MAX_LINE_BYTES:
                self._partial, self._overlong = b"", True
            return []
        if self._overlong:  # the rest of an overlong line ends here
            first = min(i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0)
            data, cut, self._overlong = data[first + 1 :], cut - first - 1, False
            if cut < 0:
                self._partial = data
                return []
        self._partial = data[cut + 1 :]
        return self._lines(data[: cut + 1])

    def finish(self) -> list[Row]:
        """The rows of the last line, when the output did not end with a newline, and those
        the parser gives at the end."""
        data, self._partial = self._partial, b""
        return self._lines(data) + self.parser.finish()

    def _lines(self, data: bytes) -> list[Row]:
        return self.parser.parse_lines(data.decode("utf-8", errors="replace").splitlines())


def read_results_file(path: Path, *, last_step: int = 0) -> list[Row]:
    """The rows of a results file, by its suffix.

    - ``.json``: one object of final values; nested keys are joined with ``/``
      (``{"val": {"loss": 2.3}}`` is ``val/loss``). One row, at its ``step`` if it has one,
      else at ``last_step`` (the last step the run reported otherwise).
    - ``.jsonl``: an object per line, a row each; ``step`` gives the step, else the line number.
    - ``.csv``: a header row, then a row per line; a ``step`` column gives the step.

    Values that are not numbers (strings, lists, empty cells) are left out; ``NaN`` and
    ``Infinity`` are kept (they mark a diverged run).

    Raises:
        MetricSourceError: the file is missing, unreadable, or not valid JSON / CSV.
    """
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise MetricSourceError(f"{path} was not written") from None
    except OSError as error:
        raise MetricSourceError(f"{path} cannot be read: {error}") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_rows(text, path, last_step)
    if suffix == ".jsonl":
        return _jsonl_rows(text, path)
    if suffix == ".csv":
        return _csv_rows(text, path)
    raise MetricSourceError(f"{path}: harness reads .json, .jsonl and .csv results files")


def flatten_numbers(data: Mapping[str, Any], prefix: str = "") -> Row:
    """The numbers in a nested mapping, keys joined with ``/``; booleans and the rest dropped."""
    flat: Row = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_numbers(value, f"{name}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = value
    return flat


def _json_rows(text: str, path: Path, last_step: int) -> list[Row]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError: an integer past int's limit
        raise MetricSourceError(f"{path} is not valid JSON: {str(error)[:200]}") from None
    if not isinstance(data, dict):
        raise MetricSourceError(
            f"{path} holds a JSON {type(data).__name__}, not an object of final values"
        )
    return _rows([flatten_numbers(data)], first_step=last_step)


def _jsonl_rows(text: str, path: Path) -> list[Row]:
    objects = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            if number == len(lines):  # a torn last line: the script died mid-write
                break
            message = str(error)[:200]
            raise MetricSourceError(f"{path}:{number} is not valid JSON: {message}") from None
        if not isinstance(data, dict):
            raise MetricSourceError(
                f"{path}:{number} holds a JSON {type(data).__name__}, not an object"
            )
        objects.append(flatten_numbers(data))
    return _rows(objects, first_step=1)


def _csv_rows(text: str, path: Path) -> list[Row]:
    try:
        reader = csv.reader(io.StringIO(text), strict=True)
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise MetricSourceError(f"{path} is not valid CSV: no header row")
        names = [name.strip() for name in header]
        objects = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(names):
                raise MetricSourceError(
                    f"{path}:{reader.line_num} is not valid CSV: {len(cells)} cells under a "
                    f"header of {len(names)}"
                )
            row = {}
            for name, cell in zip(names, cells, strict=False):
                value = _number(cell.strip())
                if name and value is not None:
                    row[name] = value
            objects.append(row)
    except csv.Error as error:
        raise MetricSourceError(f"{path} is not valid CSV: {error}") from None
    return _rows(objects, first_step=1)


def _rows(objects: list[Row], *, first_step: int) -> list[Row]:
    """Rows with an integer ``step`` first: their own, else their position from ``first_step``."""
    rows = []
    for position, values in enumerate(objects, start=first_step):
        step = _step(_number(values.pop("step"))) if "step" in values else None
        metrics = {k: number for k, v in values.items() if (number := _number(v)) is not None}
        if metrics:
            rows.append({"step": position if step is None else step, **metrics})
    return rows


def _number(text: Any) -> float | None:
    """A number or its text as a float; an integer too large for a float is inf (the run then
    counts as diverged, like any non-finite value); anything else None."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        try:
            return float(text)
        except OverflowError:
            return math.inf if text > 0 else -math.inf
    try:
        return float(text)
    except (TypeError, ValueError, OverflowError):
        return None


# Steps are stored as 64-bit integers (curves are int64 columns): a larger one is no step.
MAX_STEP = 2**63 - 1


def _step(value: float | None) -> int | None:
    if value is None or not math.isfinite(value) or abs(value) > MAX_STEP:
        return None
    return int(value)
