"""What a run leaves behind: an immutable, JSON-serializable record.

A running run is a live process; a finished one is a :class:`RunRecord` (like optuna's
``Trial`` and ``FrozenTrial``). ``analysis`` only ever sees records turned into tables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

FinalStatus = Literal["done", "failed", "diverged"]
Status = Literal["pending", "running", "done", "failed", "diverged"]
FINAL_STATUSES: tuple[FinalStatus, ...] = ("done", "failed", "diverged")


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A finished run.

    Attributes:
        study: the study name.
        variant: the variant name.
        seed: the run's seed.
        kind: "builtin" or "command".
        config_hash: hash of the resolved config the run used.
        status: "done", "failed" (crashed or non-zero exit) or "diverged" (non-finite loss).
        final_metrics: the last reported value of every metric.
        provenance: git commit and dirty flag, versions, host, device; ``step_axis`` "log
            line" for a command whose curves are at line numbers (no line printed a step).
        started_at: ISO 8601 UTC start time.
        ended_at: ISO 8601 UTC end time.
        wall_time_s: seconds from start to end.
        error: for failed and diverged runs, what went wrong.
        diverged_step: for diverged runs, the step where the loss stopped being finite.
        output_tail: the last lines of the run's output, for failed runs.
        warnings: what the run reported that harness did not use, naming what and why (a
            metrics line that could not be read, a last report that is not a number).
        timings: where the run's time went, in seconds (:data:`TIMING_KEYS`); empty in records
            written before harness measured it.
        metrics_bytes: the length of the run's ``metrics.jsonl`` when its final metrics were
            read from it: its curve is that much of the file, so that rows appended later (by
            a process the command started outside its process group) change no table. None in
            records written before harness noted it, and in imported runs.
    """

    study: str
    variant: str
    seed: int
    kind: Literal["builtin", "command"]
    config_hash: str
    status: FinalStatus
    final_metrics: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    started_at: str
    ended_at: str
    wall_time_s: float
    error: str | None = None
    diverged_step: int | None = None
    output_tail: str | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    metrics_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as strict JSON data; a non-finite metric is the string "nan", "inf" or
        "-inf" (JSON has no such numbers), turned back into a float by :meth:`from_dict`."""
        data = dataclasses.asdict(self)
        data["final_metrics"] = {
            k: (v if math.isfinite(v) else str(v)) for k, v in self.final_metrics.items()
        }
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Read a record as :meth:`to_dict` wrote it (any version: unknown keys are ignored).

        Raises:
            ValueError: a field is missing or holds a value of the wrong kind, named in the
                message (a hand-edited or damaged ``record.json``).
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        missing = [name for name in _REQUIRED if name not in fields]
        if missing:
            raise ValueError(f"missing {', '.join(repr(name) for name in missing)}")
        for name, kinds in _KINDS.items():
            value = fields.get(name)
            if name in fields and not _is_kind(value, kinds):
                raise ValueError(f"'{name}' is {value!r:.60}, expected {_describe(kinds)}")
        if (fields.get("metrics_bytes") or 0) < 0:
            raise ValueError(f"'metrics_bytes' is {fields['metrics_bytes']}, expected 0 or more")
        if fields["kind"] not in ("builtin", "command"):
            raise ValueError(f"'kind' is {fields['kind']!r:.60}, expected 'builtin' or 'command'")
        if fields["status"] not in FINAL_STATUSES:
            raise ValueError(
                f"'status' is {fields['status']!r:.60}, expected one of {', '.join(FINAL_STATUSES)}"
            )
        fields["final_metrics"] = _read_final_metrics(fields.get("final_metrics") or {})
        try:
            fields["wall_time_s"] = float(fields["wall_time_s"])
        except OverflowError:
            raise ValueError("'wall_time_s' is too large for a float") from None
        fields["provenance"] = fields.get("provenance") or {}
        if "warnings" in fields:
            fields["warnings"] = [str(warning) for warning in fields["warnings"] or ()]
        if "timings" in fields:
            fields["timings"] = _read_timings(fields["timings"] or {})
        return cls(**fields)


def _read_timings(timings: dict[str, Any]) -> dict[str, float]:
    """``timings`` as floats; informative only, so a value that is no finite number is left
    out rather than failing the record."""
    values: dict[str, float] = {}
    for name, value in timings.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            with contextlib.suppress(OverflowError):
                if math.isfinite(float(value)):
                    values[str(name)] = float(value)
    return values


# Where a run's time went (``RunRecord.timings``), in seconds. ``startup_s``: from the runner
# handing the run over to the worker starting it (a fresh process's imports, or a fork);
# ``setup_s``: data, model and optimizer (built-in runs); ``train_s`` and ``eval_s``: the
# optimizer steps and the validation (built-in runs); ``command_s``: a command run's process;
# ``wandb_s``: starting and finishing the wandb run; ``other_s``: the rest of the wall time
# (provenance, the metrics file, the record).
TIMING_KEYS = ("startup_s", "setup_s", "train_s", "eval_s", "command_s", "wandb_s", "other_s")
# The part of a run that is the work itself, not harness's cost.
WORK_TIMING_KEYS = ("train_s", "eval_s", "command_s")


_REQUIRED = (
    "study",
    "variant",
    "seed",
    "kind",
    "config_hash",
    "status",
    "started_at",
    "ended_at",
    "wall_time_s",
)
# The JSON kinds a record's fields may hold (None where the field is optional).
_KINDS: dict[str, tuple[type | None, ...]] = {
    "study": (str,),
    "variant": (str,),
    "seed": (int,),
    "kind": (str,),
    "config_hash": (str,),
    "status": (str,),
    "final_metrics": (dict, None),
    "provenance": (dict, None),
    "started_at": (str,),
    "ended_at": (str,),
    "wall_time_s": (int, float),
    "error": (str, None),
    "diverged_step": (int, None),
    "output_tail": (str, None),
    "warnings": (list, None),
    "timings": (dict, None),
    "metrics_bytes": (int, None),
}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _is_kind(value: Any, kinds: tuple[type | None, ...]) -> bool:
    if value is None:
        return None in kinds
    if isinstance(value, bool):  # JSON true/false is no number
        return bool in kinds
    return any(kind is not None and isinstance(value, kind) for kind in kinds)


def _describe(kinds: tuple[type | None, ...]) -> str:
    words: dict[type | None, str] = {
        str: "text",
        int: "an integer",
        float: "a number",
        dict: "an object",
        list: "a list",
        None: "null",
    }
    return " or ".join(words.get(kind, str(kind)) for kind in kinds)


def _read_final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """``final_metrics`` as floats: numbers, and "nan"/"inf"/"-inf" as :meth:`to_dict` writes
    non-finite values."""
    values: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, str) and value in _NON_FINITE:
            values[name] = _NON_FINITE[value]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                values[name] = float(value)
            except OverflowError:  # an integer beyond any float
                raise ValueError(f"final metric '{name}' is too large for a float") from None
        else:
            raise ValueError(f"final metric '{name}' is {value!r:.60}, not a number")
    return values


# A metric whose size is beyond this counts as non-finite: its square (which a variance needs)
# would overflow a float, so statistics over it would be inf or nan, never a verdict. No loss,
# accuracy or throughput comes near it; a value this big is a run that blew up.
LARGEST_USABLE = 1e150


def as_metric(value: Any) -> float | None:
    """A reported value as a metric: a float for a number (inf for an integer too large for a
    float), None for anything else (null, strings, booleans, lists)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond a float's range
        return math.inf if value > 0 else -math.inf


def usable(value: float) -> bool:
    """Whether a metric value can enter statistics: finite and within :data:`LARGEST_USABLE`."""
    return math.isfinite(value) and abs(value) <= LARGEST_USABLE


def final_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The last reported numeric value of every metric (``step`` excluded); values that are
    not numbers do not count (see :func:`non_numeric_last_reports`)."""
    final: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key != "step" and (number := as_metric(value)) is not None:
                final[key] = number
    return final


def non_numeric_last_reports(rows: list[dict[str, Any]]) -> list[str]:
    """For each metric whose last report is not a number (``null``, a string ...), what was
    reported and which number stands instead: the warnings a record carries."""
    last_value: dict[str, tuple[Any, Any]] = {}  # metric -> (value, step) of its last report
    last_number: dict[str, tuple[float, Any]] = {}
    for row in rows:
        step = row.get("step")
        for key, value in row.items():
            if key == "step":
                continue
            last_value[key] = (value, step)
            if (number := as_metric(value)) is not None:
                last_number[key] = (number, step)
    warnings = []
    for key, (value, step) in last_value.items():
        if as_metric(value) is not None:
            continue
        shown = json.dumps(value)[:40] if _jsonable(value) else repr(value)[:40]
        instead = (
            f"the final value is {last_number[key][0]!r}, reported at step {last_number[key][1]}"
            if key in last_number
            else "the metric has no final value"
        )
        warnings.append(
            f"{key}: the last report (step {step}) is {shown}, not a number; only numbers "
            f"count, so {instead}"
        )
    return warnings


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def first_non_finite(rows: list[dict[str, Any]]) -> tuple[int | None, str, float] | None:
    """The (step, metric, value) of the first metric value reported that is not usable in
    statistics (nan, inf, or beyond :data:`LARGEST_USABLE`, an integer too large for a float
    included), if any."""
    for row in rows:
        for key, value in row.items():
            if key == "step" or (number := as_metric(value)) is None or usable(number):
                continue
            return (_step_of(row.get("step")), key, number)
    return None


def _step_of(step: Any) -> int | None:
    if isinstance(step, bool) or not isinstance(step, int | float):
        return None
    return int(step) if isinstance(step, int) or math.isfinite(step) else None
