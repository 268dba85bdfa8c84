"""Metrics from the logs training scripts print, with no pattern declared (``metrics = "auto"``).

A ``name value`` pair (``loss: 2.31``, ``loss=2.31``, ``'loss': '2.31'``, ``val loss 2.40``,
``1,146``) is a metric only where the output shows it is one:

1. **a record**: a dict or JSON object printed whole (``{'loss': 4.48, 'epoch': 0.5}``: the
   Hugging Face Trainer, Accelerate, many scripts), numbers quoted or not;
2. **a step line**: the line has a step (``step 100``, ``iter 200``) beside the pair
   (nanoGPT, minGPT, most hand-written loops);
3. **a progress bar's postfix**: the pairs after a bar's rate (tqdm's ``set_postfix``,
   Lightning's bar, rich's columns under it), at the bar's count as the step;
4. **a results block**: the lines under a heading that names metrics or results (the
   Trainer's ``***** eval metrics *****``, Lightning's ``Test metric`` table);
5. **a repeated line**: a line of the same text but for its numbers printed again with other
   numbers (``epoch 3 | val/loss=2.118`` each epoch). The first such line waits until the
   second shows the pattern repeats, then both are rows. A line whose every name is already a
   metric is a row at once (so that the last value printed is the final one).

Never a metric: a pair printed once outside these (start-up lines such as ``Num examples =
1,146``, generated sample text), the lines under any other heading (the Trainer's ``*****
Running training *****`` block), the description of a progress bar, a log prefix
(``[INFO|trainer.py:1633] ... >>``), a source location (``train.py:12``), names of the run
(``seed``, ``variant``) and Lightning's logger version (``v_num``).

A row's step is the one the line printed (or the bar's count); without one it is the number of
the output line, which is what a curve's axis then means ("log line").

Lines of one shape (the same text but for the ASCII digits) have their pairs in the same
places: every class in :data:`AUTO_PAIR` treats the ten digits alike, and a match never starts,
ends or changes item inside a run of digits. A script prints a few shapes millions of times: a
shape seen often gets a regex of its own that reads its values at once; a line of a shape seen
rarely (sample text, log lines with changing words, garbage) is read as it comes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

STEP_NAMES = frozenset({"step", "iter", "iteration", "global_step"})
# Pairs that name the run rather than measure it (`seed 1337` in a start-up line, the results
# table's own columns) or number a logger's versions (Lightning's `v_num` in every bar).
NOT_METRICS = frozenset({"seed", "variant", "v_num"})
_NUMBER = r"[-+]?(?:\d+(?:,\d+)*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NON_FINITE = r"[-+]?(?i:nan|inf(?:inity)?)"
_UNIT = r"(?:%|ms|us|µs|ns|s|x)?"
_WORD = r"[A-Za-z_](?:[\w./-]*\w)?"
# `name: 1.23`, `name=1.23`, `'name': '1.23'` and `name 1.23` pairs. A name is one to three
# words (`val loss 2.40` is `val_loss`); a value may be quoted (Trainer 5.x quotes them), carry
# a unit (`35.2ms`, `12%`) or thousands separators (`1,146`), and must end the token, so
# `v2.0-beta`, `12:30:01` or `model info` give nothing.
AUTO_PAIR = re.compile(
    rf"""(?<![\w./'"-])['"]?(?P<name>{_WORD}(?:\ {_WORD}){{0,2}})['"]?(?:\s*[:=]\s*|\s+)['"]?"""
    rf"""(?:(?P<value>{_NUMBER}){_UNIT}|(?P<non_finite>{_NON_FINITE}))['"]?"""
    rf"""(?=$|[\s,;|)\]}}/]|:(?:\s|$))"""
)
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_HAS_DIGIT = re.compile(r"\d").search
_HAS_VALUE = re.compile(r"\d|(?i:nan|inf)").search
_DIGIT_RUN = re.compile(r"[0-9]+")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# transformers' explicit log format: `[INFO|trainer.py:1633] 2026-12-07 13:56:05,537 >> `
_LOG_PREFIX = re.compile(r"\s*\[[A-Z]+\|[^\]\s]+:\d+\][^>]*>> ?")
_SOURCE_FILE = re.compile(r"\.(?:py|pyx|c|cc|cpp|cu|h|hpp|rs|go|js|ts|java|sh)$")
# A heading: a title framed by a run of `*`, `=`, `#` or `-` (`***** eval metrics *****`), or
# the first cell of Lightning's results table (`Test metric`, `Validate metric`).
_BANNER = re.compile(r"\s*([*=#~-])\1{2,}\s*(?P<title>[A-Za-z][^*=#~\d]*?)\s*\1{3,}\s*")
_TABLE_HEADING = re.compile(r"[\s┃│]*(?:Test|Validate|Validation|Predict) metric\b.*")
_RESULTS_TITLE = re.compile(r"(?i)\b(?:metrics?|results?)\b").search
# A block line: one `name = value` or `name: value` (a value of any form: `0:00:11.10`, `1GF`)
_KEY_VALUE = re.compile(r"\s*[A-Za-z][^=:{}\[\]|'\"]*?\s*[=:]\s*[^\s=]+\s*")
# a table row of a results block once its bars are spaces: `test_loss    0.9595`
_TABLE_ROW = re.compile(r"\s*[A-Za-z][\w./-]*\s+[^\s]+\s*")
_RULE_CHARS = "─━┄┈┡┩╇└┘┴┬┏┓┳┃│═╞╡╪*=#~-"
_RULE = re.compile(rf"[\s{_RULE_CHARS}]*")
_TABLE_BARS = str.maketrans({"│": " ", "┃": " "})
# A progress bar: `n/total` (or `n/?`), then a rate (`12.5it/s`, `1.2s/it`); the pairs after
# the rate are its postfix. tqdm: `Epoch 1:  45%|████▌ | 9/20 [00:01<00:01, 8.1it/s, loss=1.2]`;
# rich: `Epoch 2/2 ━━━━ 20/20 0:00:00 • 0:00:00 21.76it/s v_num: 0.000`.
_BAR = re.compile(
    r"(?:.*[^\d/])?(?P<count>\d+)/(?P<total>\d+|\?)(?=\s)[^\n]*?(?:\?|[\d.]+)(?:it/s|s/it)\b"
)  # the last count before the rate: rich's `Epoch 2/2 ━━ 20/20 ...` counts 20
_BAR_EPOCH = re.compile(r"\s*Epoch (?P<epoch>\d+)\b")
_CONTINUATION_INDENT = 8  # rich prints a bar's columns on lines indented under it
SHAPE_CACHE_SIZE = 1024
SIGHTINGS_SIZE = 16384
# A shape's regex costs about as much to make as reading a few lines without it: it is made for
# a shape seen this often, which a training loop's lines reach at once and text rarely does.
SIGHTINGS_FOR_A_REGEX = 8
SHAPE_MAX_CHARS = 1000
REPEATS_SIZE = 8192  # line signatures waiting for a second sight
# identical lines held back per signature, at most: they repeat the same values, and 8,192
# signatures of a script printing constants must not fill the memory
HELD_PER_SIGNATURE = 32
_EXACT_DIGITS = 15  # every integer of up to 15 digits is exactly a float (2**53 has 16)
# Steps are stored as 64-bit integers (curves are int64 columns): a larger one is no step.
MAX_STEP = 2**63 - 1

# Documented examples: lines as a script prints them, and the rows "auto" gives.
AUTO_EXAMPLES: dict[str, list[Row]] = {
    "step 100: train loss 2.31, val loss 2.40": [
        {"step": 100, "train_loss": 2.31, "val_loss": 2.4}
    ],
    "iter 200: loss 2.1043, time 35.21ms, mfu 12.50%": [
        {"step": 200, "loss": 2.1043, "time": 35.21, "mfu": 12.5}
    ],
    "{'loss': '1.93', 'learning_rate': '5e-05', 'epoch': '0.5'}": [
        {"step": 1, "loss": 1.93, "learning_rate": 5e-05, "epoch": 0.5}
    ],
    "epoch 3 | val/loss=2.118 | val/acc=0.41\nepoch 4 | val/loss=2.05 | val/acc=0.43": [
        {"step": 1, "epoch": 3.0, "val/loss": 2.118, "val/acc": 0.41},
        {"step": 2, "epoch": 4.0, "val/loss": 2.05, "val/acc": 0.43},
    ],
    "train: 100%|██████████| 60/60 [00:07<00:00, 9.93it/s, acc=0.906, loss=0.415]": [
        {"step": 60, "acc": 0.906, "loss": 0.415}
    ],
    "***** eval metrics *****\n  epoch = 3.0\n  eval_loss = 2.4788\n  eval_runtime = 0:00:06.12": [
        {"step": 2, "epoch": 3.0},
        {"step": 3, "eval_loss": 2.4788},
    ],
    "***** Running training *****\n  Num examples = 1,146\n  Batch size = 8\nseed 3": [],
}


@dataclass(frozen=True, kw_only=True)
class _Layout:
    """What a line (or a shape's skeleton) holds, found once per shape.

    Attributes:
        metrics: in line order, (the value's span, the metric's name or None, the name's
            span or None: a name with digits is read from the line).
        steps: the step pairs' value spans, in line order.
        kind: "record", "bar", "heading", "settings", "blank" or "" (a plain line).
        key_value: the line is one ``name = value`` (a block's line, a bar's column).
        table_row: the line is ``name value`` alone (a results table's row).
        indent: the line's leading spaces.
        bar: for a bar, the spans of its count, its total and its ``Epoch`` number (or None).
    """

    metrics: tuple[tuple[tuple[int, int], str | None, tuple[int, int] | None], ...]
    steps: tuple[tuple[int, int], ...]
    kind: str
    key_value: bool
    table_row: bool
    indent: int
    bar: tuple[tuple[int, int], tuple[int, int] | None, tuple[int, int] | None] | None


def _layout(text: str) -> _Layout:
    """The layout of ``text``: a line, or a skeleton (its digit runs each ``0``)."""
    # each regex only where its first character or word can be: most lines are none of these
    stripped = text.strip()
    if not stripped or (stripped[0] in _RULE_CHARS and _RULE.fullmatch(text)):
        return _Layout(
            metrics=(), steps=(), kind="blank" if not stripped else "rule", key_value=False,
            table_row=False, indent=0, bar=None,
        )  # fmt: skip
    banner = _BANNER.fullmatch(text) if stripped[0] in "*=#~-" else None
    if banner is not None or ("metric" in text and _TABLE_HEADING.fullmatch(text)):
        results = banner is None or _RESULTS_TITLE(banner["title"]) is not None
        return _Layout(
            metrics=(), steps=(), kind="heading" if results else "settings", key_value=False,
            table_row=False, indent=0, bar=None,
        )  # fmt: skip
    bar_match = _BAR.match(text) if "it/s" in text or "s/it" in text else None
    postfix_from = 0
    bar = None
    if bar_match is not None:
        postfix_from = bar_match.end()
        total = bar_match.span("total") if bar_match["total"] != "?" else None
        epoch = _BAR_EPOCH.match(text, 0, bar_match.start("count"))
        bar = (bar_match.span("count"), total, epoch.span("epoch") if epoch else None)
    metrics = []
    steps = []
    for match in AUTO_PAIR.finditer(text, postfix_from):
        group = "value" if match["value"] is not None else "non_finite"
        name = match["name"].replace(" ", "_")
        lowered = name.lower()
        if lowered in STEP_NAMES:
            steps.append(match.span(group))
        elif lowered not in NOT_METRICS and _SOURCE_FILE.search(name) is None:
            has_digits = _HAS_DIGIT(name) is not None
            metrics.append(
                (match.span(group), None if has_digits else name,
                 match.span("name") if has_digits else None)
            )  # fmt: skip
    brace = stripped.find("{")
    record = brace >= 0 and stripped[brace + 1 : brace + 2] in ("'", '"') and "}" in stripped
    single = len(metrics) + len(steps) <= 1  # a block's line holds one pair at most
    return _Layout(
        metrics=tuple(metrics),
        steps=tuple(steps),
        kind="bar" if bar is not None else "record" if record else "",
        key_value=single and _KEY_VALUE.fullmatch(text) is not None,
        table_row=single and _TABLE_ROW.fullmatch(text) is not None,
        indent=len(text) - len(text.lstrip(" ")),
        bar=bar,
    )


@dataclass(kw_only=True)
class _Shape:
    """A layout seen on two lines or more, with the regex that reads its lines' values.

    Attributes:
        layout: the skeleton's layout.
        pattern: matches exactly the lines of the shape; its groups capture the values, the
            steps, the names with digits and the bar's numbers, in line order.
        order: the groups (0-based) of the texts :meth:`AutoParser._emit` reads, in its order.
        signature: the skeleton with its values blanked: lines that repeat it are rule 5's.
        direct: a record or a step line: outside a block, each of its lines is a row at once,
            read by :meth:`AutoParser._direct_row` from ``values`` and ``steps``.
        values: (the value's group, the metric's name or the group of its name).
        steps: the step values' groups.
    """

    layout: _Layout
    pattern: re.Pattern[str]
    order: list[int]
    signature: str
    direct: bool
    values: list[tuple[int, str | int]]
    steps: list[int]

    @classmethod
    def of(cls, skeleton: str, layout: _Layout) -> _Shape:
        """The shape of the lines whose digit runs are each ``0`` in ``skeleton``."""
        spans = sorted(set(_span_order(layout)))
        parts: list[str] = []
        position = 0
        for start, end in spans:
            parts += [_shape_regex(skeleton[position:start]), "("]
            parts += [_shape_regex(skeleton[start:end]), ")"]
            position = end
        parts.append(_shape_regex(skeleton[position:]))
        group = {span: index for index, span in enumerate(spans)}
        return cls(
            layout=layout,
            pattern=re.compile("".join(parts)),
            order=[group[span] for span in _span_order(layout)],
            signature=_signature(skeleton, layout),
            direct=layout.kind == "record" or (layout.kind == "" and bool(layout.steps)),
            values=[
                (group[value], name if name is not None else group[name_span])  # type: ignore[index]
                for value, name, name_span in layout.metrics
            ],
            steps=[group[span] for span in layout.steps],
        )


def _shape_regex(skeleton: str) -> str:
    """A regex for the text ``skeleton`` stands for: itself, each ``0`` any run of digits."""
    return "[0-9]+".join(re.escape(text) for text in skeleton.split("0"))


def _signature(text: str, layout: _Layout) -> str:
    """``text`` (a line or a skeleton) with its values blanked and its other digit runs each
    ``0``: `loss 2.5` and `loss 2e-3` repeat one line, as do `loss 2.5` lines with other
    timestamps."""
    parts = []
    position = 0
    for (start, end), _, _ in layout.metrics:
        parts += [text[position:start], "\x00"]
        position = end
    parts.append(text[position:])
    return _DIGIT_RUN.sub("0", "".join(parts))


def _in_block(block: str, layout: _Layout) -> bool:
    """Whether a line goes on the block above it: a ``results`` block takes ``name = value``
    lines, table rows and rules; a ``settings`` block (the Trainer's start-up lists) indented
    ``name = value`` lines and rules, so that a loop printing ``loss: 2.5`` under a heading
    of its own is no list of settings."""
    if layout.kind == "rule":
        return block in ("results", "settings")
    if block == "results":
        return layout.key_value or layout.table_row
    return block == "settings" and layout.key_value and layout.indent > 0


@dataclass(kw_only=True)
class _Waiting:
    """Rule 5: the lines of one signature seen so far, until one shows other values.

    Attributes:
        values: the first line's values.
        held: the lines with those values, as read (layout, texts, line number).
        repeats: a line showed other values: every line of the signature is a row.
    """

    values: tuple[str, ...]
    held: list[tuple[_Layout, list[str], int]] = field(default_factory=list)
    repeats: bool = False


class AutoParser:
    """Rows from the lines of a script's output by the rules of this module, line by line.

    Args:
        cache_shapes: read a line of a shape seen before by that shape's own regex (the
            same rows, faster; off only to check that).
    """

    def __init__(self, *, cache_shapes: bool = True) -> None:
        self._cache = cache_shapes
        self._shapes: dict[str, _Shape] = {}
        # how often each skeleton without a regex was seen: kept apart, so that a flood of
        # lines each of its own shape (samples, garbage) does not push the real shapes out
        self._sightings: dict[str, int] = {}
        self._waiting: dict[str, _Waiting] = {}
        self._line = 0
        self._block = ""  # "results", "settings", "bar" or "" (none)
        self._bar_step: int | None = None
        self._printed_step: int | None = None  # the last step a line printed
        self.numbered_rows = 0  # rows at their line number: no step printed
        self._last_shape: _Shape | None = None  # the direct shape of the last such line
        self._metrics: set[str] = set()  # the names of the rows given so far

    def parse_lines(self, lines: Iterable[str]) -> list[Row]:
        """The rows of ``lines``, the next lines of the output, in order."""
        rows: list[Row] = []
        last = self._last_shape
        for line in lines:
            self._line += 1
            # most lines are the record or step line of the line before: its regex first (a
            # line it matches is clean text, as shapes are made from cleaned lines)
            if last is not None and not self._block and (match := last.pattern.fullmatch(line)):
                if (row := self._direct_row(last, match.groups())) is not None:
                    rows.append(row)
                continue
            if "\x1b" in line:
                line = _ANSI.sub("", line)
            if "\ufffd\ufffd" in line or "\x00" in line:  # binary, not text
                self._block = ""
                continue
            if "|" in line and ">>" in line and (prefix := _LOG_PREFIX.match(line)):
                line = line[prefix.end() :]
            if self._block == "results" and ("│" in line or "┃" in line):
                line = line.translate(_TABLE_BARS)
            if _HAS_VALUE(line) is None:
                self._text_line(line)
                continue
            layout, texts, shape = self._read(line)
            self._rows(layout, texts, line, shape, rows)
            if shape is not None and shape.direct:
                last = self._last_shape = shape
        return rows

    def _direct_row(self, shape: _Shape, groups: tuple[str, ...]) -> Row | None:
        """:meth:`_emit`'s row of a line of a direct shape, in fewer steps (the loop of a
        script printing millions of step lines)."""
        row: Row = {"step": 0}  # first, as every row of metrics.jsonl has it
        for value, name in shape.values:
            if isinstance(name, int):  # a name with digits (`top5 acc`): read from the line
                name = groups[name].replace(" ", "_")
            text = groups[value]
            try:
                row[name] = float(text)
            except ValueError:  # `1,146`, `1,2`
                number = _value(text)
                if number is not None:
                    row[name] = number
        if len(row) == 1:
            return None
        row["step"] = self._row_step(groups[index] for index in shape.steps)
        return row

    def _row_step(self, texts: Iterable[str]) -> int:
        """The first step among a line's ``texts`` (it becomes the last printed step), else the
        line number (counted in :attr:`numbered_rows`)."""
        for text in texts:
            if (step := _step(text)) is not None:
                self._printed_step = step
                return step
        self.numbered_rows += 1
        return self._line

    def finish(self) -> list[Row]:
        """The rows still held at the end of the output: none, as a line seen once is no
        metric (rule 5); the lines that repeated were given when they did."""
        self._waiting.clear()
        return []

    def _text_line(self, line: str) -> None:
        """A line without digits: it may open or end a block, never gives a row."""
        if not line.strip():
            self._block = ""
            return
        layout = _layout(line) if len(line) <= SHAPE_MAX_CHARS else None
        if layout is None:
            self._block = ""
        elif layout.kind == "heading":
            self._block = "results"
        elif layout.kind == "settings":
            self._block = "settings"
        elif not _in_block(self._block, layout):
            self._block = ""

    def _read(self, line: str) -> tuple[_Layout, list[str], _Shape | None]:
        """The layout of ``line``, the texts of its spans (values, steps, names, bar numbers)
        and its shape, when it has one made."""
        if len(line) > SHAPE_MAX_CHARS or not self._cache:
            layout = _layout(line)
            return layout, _texts(line, layout), None
        skeleton = _DIGIT_RUN.sub("0", line)
        shape = self._shapes.get(skeleton)
        if shape is None:
            seen = self._sightings.get(skeleton, 0) + 1
            if seen < SIGHTINGS_FOR_A_REGEX:  # read the line itself: a regex costs more
                if len(self._sightings) >= SIGHTINGS_SIZE:
                    self._sightings.clear()
                self._sightings[skeleton] = seen
                layout = _layout(line)
                return layout, _texts(line, layout), None
            self._sightings.pop(skeleton, None)
            if len(self._shapes) >= SHAPE_CACHE_SIZE:
                self._shapes.clear()
            shape = self._shapes[skeleton] = _Shape.of(skeleton, _layout(skeleton))
        match = shape.pattern.fullmatch(line)
        if match is None:  # cannot happen: the line has the shape it was made from
            layout = _layout(line)
            return layout, _texts(line, layout), None
        groups = match.groups()
        return shape.layout, [groups[index] for index in shape.order], shape

    def _rows(
        self, layout: _Layout, texts: list[str], line: str, shape: _Shape | None, rows: list[Row]
    ) -> None:
        block = self._block
        kind = layout.kind
        if kind == "heading":
            self._block = "results"
            return
        if kind == "settings":
            self._block = "settings"
            return
        if block == "settings":
            if _in_block(block, layout):
                return
            self._block = block = ""
        if block == "results":
            if _in_block(block, layout):  # final values: at the last step, if one was printed
                self._emit(layout, texts, self._printed_step, rows)
                return
            self._block = block = ""
        if block == "bar":
            if layout.key_value and layout.indent >= _CONTINUATION_INDENT:
                if self._bar_step is not None and self._emit(layout, texts, self._bar_step, rows):
                    self._printed_step = self._bar_step
                return
            self._block = ""
        if kind == "bar":
            self._block = "bar"
            self._bar_step = _bar_step(layout, texts)
            # a bar at 0 has done nothing yet: its postfix repeats the values before it (and
            # Lightning redraws the last epoch's bar at 0 when the next one starts)
            if self._bar_step is not None and self._emit(layout, texts, self._bar_step, rows):
                self._printed_step = self._bar_step
            return
        if kind in ("blank", "rule") or not layout.metrics:
            return
        if kind == "record" or layout.steps:
            self._emit(layout, texts, None, rows)
            return
        if all(name in self._metrics for _, name, _ in layout.metrics):  # None: never in
            self._emit(layout, texts, None, rows)
            return
        signature = shape.signature if shape is not None else _signature(line, layout)
        self._repeated(layout, texts, signature, rows)

    def _repeated(self, layout: _Layout, texts: list[str], signature: str, rows: list[Row]) -> None:
        """Rule 5: a plain line is a row once a line of its signature shows other values."""
        values = tuple(texts[: len(layout.metrics)])
        waiting = self._waiting.get(signature)
        if waiting is None:
            if len(self._waiting) >= REPEATS_SIZE:
                self._waiting = {k: w for k, w in self._waiting.items() if w.repeats}
                if len(self._waiting) >= REPEATS_SIZE:
                    self._waiting.clear()
            waiting = self._waiting[signature] = _Waiting(values=values)
            waiting.held.append((layout, texts, self._line))
            return
        if waiting.repeats:
            self._emit(layout, texts, None, rows)
            return
        if values == waiting.values:  # held as read: most never become rows
            if len(waiting.held) < HELD_PER_SIGNATURE:
                waiting.held.append((layout, texts, self._line))
            return
        waiting.repeats = True
        line = self._line
        for held_layout, held_texts, self._line in waiting.held:
            self._emit(held_layout, held_texts, None, rows)
        self._line = line
        self._emit(layout, texts, None, rows)
        waiting.held = []

    def _emit(self, layout: _Layout, texts: list[str], step: int | None, rows: list[Row]) -> bool:
        """Append the row of ``layout``'s metrics read from ``texts``, at ``step`` (else the
        line's own step, else the line number); False when it has no metric."""
        row: Row = {"step": 0}  # first, as every row of metrics.jsonl has it
        names = texts[len(layout.metrics) + len(layout.steps) :]
        named = iter(names)
        for (_, name, _name_span), text in zip(layout.metrics, texts, strict=False):
            if name is None:
                name = next(named).replace(" ", "_")
            value = _value(text)
            if value is not None:
                row[name] = value
        if len(row) == 1:
            return False
        if step is None:
            steps = texts[len(layout.metrics) : len(layout.metrics) + len(layout.steps)]
            step = self._row_step(steps)
        row["step"] = step
        rows.append(row)
        self._metrics.update(row)
        return True


def _span_order(layout: _Layout) -> list[tuple[int, int]]:
    """The spans whose texts :meth:`AutoParser._emit` reads, in its order: values, steps,
    names with digits, then the bar's numbers."""
    spans = [span for span, _, _ in layout.metrics] + list(layout.steps)
    spans += [name for _, _, name in layout.metrics if name is not None]
    if layout.bar is not None:
        spans += [span for span in layout.bar if span is not None]
    return spans


def _texts(line: str, layout: _Layout) -> list[str]:
    return [line[start:end] for start, end in _span_order(layout)]


def _bar_step(layout: _Layout, texts: list[str]) -> int | None:
    """A bar's count; under an ``Epoch E`` description of a bar of ``total``, E * total + count
    (Lightning's bar and most loops count the batches of each epoch from 0). None at a count
    of 0 (nothing done yet) and past the largest step."""
    assert layout.bar is not None
    _, total_span, epoch_span = layout.bar
    numbers = texts[len(texts) - sum(span is not None for span in layout.bar) :]
    count = int(numbers[0])
    if count == 0:
        return None
    if total_span is not None and epoch_span is not None:
        count += int(numbers[2]) * int(numbers[1])
    return count if count <= MAX_STEP else None


def _value(text: str) -> float | None:
    """A pair's value: a number, thousands separators read as such (``1,146``); of a run of
    digits and commas that is no thousands (``1,2``), the first number, as a reader would."""
    if "," in text:
        text = text.replace(",", "") if _THOUSANDS.fullmatch(text) else text.split(",")[0]
    try:
        return float(text)
    except (ValueError, OverflowError):
        return None


def _step(text: str) -> int | None:
    if text.isdigit() and len(text) <= _EXACT_DIGITS:
        return int(text)
    value = _value(text)
    if value is None or not math.isfinite(value) or abs(value) > MAX_STEP:
        return None
    return int(value)


_STEP_PAIR = re.compile(
    r"""(?<![\w./'"-])['"]?(?i:step|iter|iteration|global_step)['"]?(?:\s*[:=]\s*|\s+)['"]?"""
    r"""(?P<step>\d+)(?![\w.])"""
)


def line_step(line: str) -> int | None:
    """The step ``line`` printed (``step 100``, ``iter: 200``, ``'global_step': 300``), or
    None: for a regex source without a ``step`` group."""
    match = _STEP_PAIR.search(line)
    return None if match is None else _step(match["step"])
