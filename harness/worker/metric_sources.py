"""Metrics from what a training script prints or writes, as rows of the one curve format.

A row is what a line of ``metrics.jsonl`` holds: ``{"step": 100, "train_loss": 2.31}``. The
worker writes every row these parsers return to the run's ``metrics.jsonl``, so the store,
``harness compare``, reports, sequential testing, tuning and bisect read a printed loss exactly
like one the built-in trainer logged.

- :class:`LineParser`: the ``stdout`` (or ``log``) patterns of a ``metrics`` table, applied
  to one line; :class:`TextStream` feeds it bytes as they come, in any chunks.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.study.metrics import AUTO, STEP_GROUP, compile_pattern, metric_name

Row = dict[str, Any]

STEP_NAMES = frozenset({"step", "iter", "iteration"})
# Pairs that name the run rather than measure it (`seed 1337` in a start-up line): the results
# table has its own columns of these names, so "auto" does not take them for metrics.
RUN_NAMES = frozenset({"seed", "variant"})
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NON_FINITE = r"[-+]?(?i:nan|inf(?:inity)?)"
_UNIT = r"(?:%|ms|us|µs|ns|s|x)?"
_WORD = r"[A-Za-z_](?:[\w./-]*\w)?"
# `name: 1.23`, `name=1.23`, `'name': 1.23` and `name 1.23` pairs. A name is one to three
# words (`val loss 2.40` is `val_loss`); a value may carry a unit (`35.2ms`, `12%`) and must
# end the token, so `v2.0-beta`, `12:30:01` or `model info` give nothing.
AUTO_PAIR = re.compile(
    rf"""(?<![\w./'"-])['"]?(?P<name>{_WORD}(?:\ {_WORD}){{0,2}})['"]?(?:\s*[:=]\s*|\s+)"""
    rf"""(?:(?P<value>{_NUMBER}){_UNIT}|(?P<non_finite>{_NON_FINITE}))(?=$|[\s,;|)\]}}/]|:(?:\s|$))"""
)
_HAS_VALUE = re.compile(r"\d|(?i:nan|inf)").search
_DIGIT_RUN = re.compile(r"[0-9]+")
# Lines of one shape (the same text but for the ASCII digits: `step 7: loss 2.5` and `step 8:
# loss 2.25`) have their pairs in the same places: every class in AUTO_PAIR treats the ten digits
# alike, and a match never starts, ends or changes item inside a run of digits (a name starts
# with a letter, and a name or value must be followed by a non-digit), so AUTO_PAIR finds the
# same pairs on the line and on its shape. A script prints a few shapes millions of times: each
# is parsed once, then read by a regex made for it. Bounded, for a script whose every line
# differs: longer lines are parsed as they come, and the cache starts over when full.
SHAPE_CACHE_SIZE = 1024
SHAPE_MAX_CHARS = 1000
_EXACT_DIGITS = 15  # every integer of up to 15 digits is exactly a float (2**53 has 16)
AUTO_EXAMPLES = {
    "step 100: train loss 2.31, val loss 2.40": {
        "step": 100,
        "train_loss": 2.31,
        "val_loss": 2.4,
    },
    "iter 200: loss 2.1043, time 35.21ms, mfu 12.50%": {
        "step": 200,
        "loss": 2.1043,
        "time": 35.21,
        "mfu": 12.5,
    },
    "{'loss': 1.93, 'learning_rate': 5e-05, 'epoch': 0.5}": {
        "step": 1,
        "loss": 1.93,
        "learning_rate": 5e-05,
        "epoch": 0.5,
    },
    "epoch 3 | val/loss=2.118 | val/acc=0.41": {
        "step": 1,
        "epoch": 3.0,
        "val/loss": 2.118,
        "val/acc": 0.41,
    },
}


class MetricSourceError(Exception):
    """A declared source that cannot be read (a missing or malformed file)."""


class LineParser:
    """Rows from single lines of text: the ``stdout`` patterns of a ``metrics`` table.

    Args:
        patterns: "auto" for the built-in pairs (:data:`AUTO_PAIR`), or regexes whose named
            groups are metrics (``val__loss`` is ``val/loss``); a group ``step`` gives the step.
        cache_shapes: "auto" reads a line of a shape it has seen by that shape's own regex
            (the same rows, faster; off only to check that).

    A line without its own step gets the count of lines this pattern matched so far.
    """

    def __init__(self, patterns: str | Iterable[str], *, cache_shapes: bool = True) -> None:
        self.auto = patterns == AUTO
        self._shapes: dict[str, _Shape] | None = {} if cache_shapes else None
        self._last_shape: _Shape | None = None
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
        self._matches = [0] * max(1, len(self.patterns))

    def parse(self, line: str) -> list[Row]:
        """The rows in ``line``: one per pattern that matches it (auto: one for all pairs)."""
        return self.parse_lines([line])

    def parse_lines(self, lines: list[str]) -> list[Row]:
        """The rows in ``lines``, in order (the loop of :meth:`parse`, kept tight: a script may
        print millions of lines)."""
        if self.auto:
            if self._shapes is not None:
                return self._auto_rows(lines)
            return [row for row in map(self._auto, lines) if row is not None]
        if len(self.patterns) == 1:
            return self._matches_rows(0, [m for m in map(self.patterns[0].search, lines) if m])
        rows: list[Row] = []
        for line in lines:
            for index, pattern in enumerate(self.patterns):
                match = pattern.search(line)
                if match is not None:
                    rows += self._matches_rows(index, [match])
        return rows

    def _matches_rows(self, index: int, matches: list[re.Match[str]]) -> list[Row]:
        step_position, named = self._layout[index]
        count = self._matches[index]
        rows: list[Row] = []
        append = rows.append
        for match in matches:
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
                count += 1
                step = count
            row["step"] = step
            append(row)
        self._matches[index] = count
        return rows

    def _auto_rows(self, lines: list[str]) -> list[Row]:
        """:meth:`_auto`'s rows, each line read by the regex of its shape (one loop, kept
        tight: this is the cost of "auto" on a script printing millions of lines)."""
        rows: list[Row] = []
        shape = self._last_shape  # most lines have the shape of the line before
        for line in lines:
            if shape is None or (match := shape.pattern.fullmatch(line)) is None:
                found = self._shape(line)
                if found is None:  # no pair can match, or too long to cache
                    if (row := self._auto(line)) is not None:
                        rows.append(row)
                    continue
                shape = self._last_shape = found
                match = shape.pattern.fullmatch(line)
                if match is None:  # cannot happen: the line has the shape it was made from
                    if (row := self._auto(line)) is not None:
                        rows.append(row)
                    continue
            groups = match.groups()
            row = {"step": 0}  # first, as every row of metrics.jsonl has it
            for value_group, name in shape.metrics:
                if isinstance(name, int):  # a name with digits (`top5 acc`): read from the line
                    name = groups[name].replace(" ", "_")
                row[name] = float(groups[value_group])
            if len(row) == 1:
                continue
            step = None
            for value_group, digits_only in shape.steps:  # the first that is a step
                text = groups[value_group]
                if digits_only and len(text) <= _EXACT_DIGITS:  # int(float(text)), faster
                    step = int(text)
                    break
                if (step := _step(float(text))) is not None:
                    break
            if step is None:
                self._matches[0] += 1
                step = self._matches[0]
            row["step"] = step
            rows.append(row)
        return rows

    def _shape(self, line: str) -> _Shape | None:
        """The shape of ``line``, made on first sight; None when no pair can match it or it
        is too long to cache."""
        if _HAS_VALUE(line) is None or len(line) > SHAPE_MAX_CHARS:
            return None
        assert self._shapes is not None
        skeleton = _DIGIT_RUN.sub("0", line)
        shape = self._shapes.get(skeleton)
        if shape is None:
            if len(self._shapes) >= SHAPE_CACHE_SIZE:
                self._shapes.clear()
            shape = self._shapes[skeleton] = _Shape.of(skeleton)
        return shape

    def _auto(self, line: str) -> Row | None:
        if _HAS_VALUE(line) is None:  # most log lines: no pair can match
            return None
        step: int | None = None
        values: Row = {}
        for match in AUTO_PAIR.finditer(line):
            value = _number(match["value"] or match["non_finite"])
            if value is None:
                continue
            name = match["name"].replace(" ", "_")
            if name.lower() in STEP_NAMES:
                step = _step(value) if step is None else step
            elif name.lower() not in RUN_NAMES:
                values[name] = value
        if not values:
            return None
        if step is None:
            self._matches[0] += 1
            step = self._matches[0]
        return {"step": step, **values}


@dataclass(frozen=True, kw_only=True)
class _Shape:
    """The "auto" pairs of every line of one shape.

    Attributes:
        pattern: matches exactly the lines of the shape (each run of digits ``[0-9]+``); its
            groups hold the pairs' values and the names that have digits.
        metrics: in line order, (the value's group, the metric's name or the name's group).
        steps: the step pairs, in line order: (the value's group, it is a run of digits).
    """

    pattern: re.Pattern[str]
    metrics: tuple[tuple[int, str | int], ...]
    steps: tuple[tuple[int, bool], ...]

    @classmethod
    def of(cls, skeleton: str) -> _Shape:
        """The shape of the lines whose digit runs are each ``0`` in ``skeleton``."""
        groups: list[tuple[int, int]] = []  # spans of the skeleton captured, in order
        metrics: list[tuple[int, str | int]] = []
        steps: list[tuple[int, bool]] = []
        for match in AUTO_PAIR.finditer(skeleton):
            value_group = "value" if match["value"] is not None else "non_finite"
            text = match["name"].replace(" ", "_")
            if text.lower() in STEP_NAMES:
                groups.append(match.span(value_group))
                steps.append((len(groups) - 1, match[value_group] == "0"))
            elif text.lower() not in RUN_NAMES:
                name: str | int = text
                if "0" in text:  # the skeleton's name, not the line's: capture the line's
                    groups.append(match.span("name"))
                    name = len(groups) - 1
                groups.append(match.span(value_group))
                metrics.append((len(groups) - 1, name))
        parts: list[str] = []
        position = 0
        for start, end in groups:
            parts += [
                _shape_regex(skeleton[position:start]),
                "(",
                _shape_regex(skeleton[start:end]),
            ]
            parts.append(")")
            position = end
        parts.append(_shape_regex(skeleton[position:]))
        return cls(pattern=re.compile("".join(parts)), metrics=tuple(metrics), steps=tuple(steps))


def _shape_regex(skeleton: str) -> str:
    """A regex for the text ``skeleton`` stands for: itself, each ``0`` any run of digits."""
    return "[0-9]+".join(re.escape(text) for text in skeleton.split("0"))


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
        """The rows of the last line, when the output did not end with a newline."""
        data, self._partial = self._partial, b""
        return self._lines(data)

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
