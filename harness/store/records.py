"""What a run leaves behind: an immutable, JSON-serializable record.

A running run is a live process; a finished one is a :class:`RunRecord` (like optuna's
``Trial`` and ``FrozenTrial``). ``analysis`` only ever sees records turned into tables.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
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
        provenance: git commit and dirty flag, versions, host, device.
        started_at: ISO 8601 UTC start time.
        ended_at: ISO 8601 UTC end time.
        wall_time_s: seconds from start to end.
        error: for failed and diverged runs, what went wrong.
        diverged_step: for diverged runs, the step where the loss stopped being finite.
        output_tail: the last lines of the run's output, for failed runs.
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
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        metrics = fields.get("final_metrics") or {}
        fields["final_metrics"] = {k: float(v) for k, v in metrics.items()}
        return cls(**fields)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a ``metrics.jsonl`` file; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return []
    return parse_rows(path.read_bytes().splitlines())


def parse_rows(lines: list[bytes]) -> list[dict[str, Any]]:
    """The JSON objects among ``lines``; blank, torn or non-object lines are skipped."""
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def final_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The last reported numeric value of every metric (``step`` excluded)."""
    final: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                final[key] = float(value)
    return final


def first_non_finite(rows: list[dict[str, Any]]) -> tuple[int | None, str, float] | None:
    """The (step, metric, value) of the first non-finite metric value reported, if any."""
    for row in rows:
        for key, value in row.items():
            if key == "step" or not isinstance(value, float):
                continue
            if not math.isfinite(value):
                step = row.get("step")
                return (int(step) if isinstance(step, int | float) else None, key, value)
    return None


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
