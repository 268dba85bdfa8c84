"""A run's limits: its time limit (the ``timeout`` key of a run config, built-in or command)
and how much of its output its record keeps.

``timeout = 5400`` (seconds) or ``timeout = "1h30m"`` (a duration: ``s``, ``m``, ``h``, ``d``
parts, largest first). A run still going when its time is up is ended (a command with its whole
process group) and recorded ``failed``: "timed out after 1h30m". It lives here, below the study
reader, the built-in config and the worker, so that every kind of run reads it the same way;
:class:`RunLimits` is the typed value the worker runs under.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIMEOUT_KEY = "timeout"
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?"
)
# A limit beyond a year is no limit anyone means (and a timer cannot take much more).
LONGEST_S = 366 * 86400.0


@dataclass(frozen=True, kw_only=True)
class RunLimits:
    """What a run may use, and what of it its record keeps.

    Attributes:
        timeout_s: the run's time limit in seconds; None for none.
        output_tail_lines: the record keeps at most this many of the output's last lines ...
        output_tail_bytes: ... and at most this many bytes of it (a 50 MB line must not become
            a 50 MB record that every listing loads) ...
        output_line_bytes: ... each line cut to this many bytes.
    """

    timeout_s: float | None = None
    output_tail_lines: int = 60
    output_tail_bytes: int = 16 * 1024
    output_line_bytes: int = 1024

    @classmethod
    def of_config(cls, config: Mapping[str, Any]) -> RunLimits:
        """The limits of a resolved run config (built-in or command).

        Raises:
            DurationError: its ``timeout`` is no duration (a config read at the door never has
                one).
        """
        value = config.get(TIMEOUT_KEY)
        return cls(timeout_s=None if value is None else timeout_seconds(value))


class DurationError(ValueError):
    """A timeout that is not a positive number of seconds or a duration such as "2h"."""


def timeout_seconds(value: Any) -> float:
    """The seconds a ``timeout`` value allows.

    Args:
        value: a positive number of seconds, or a string such as ``"90s"``, ``"45m"``,
            ``"2h"``, ``"1h30m"`` or ``"1d"``.

    Returns:
        The limit in seconds.

    Raises:
        DurationError: anything else, saying what is accepted.
    """
    if isinstance(value, bool):
        raise DurationError(_expected(value))
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.fullmatch(text)
        if not text or match is None or not any(match.groups()):
            raise DurationError(_expected(value))
        seconds = sum(
            float(part) * UNIT_SECONDS[unit]
            for part, unit in zip(match.groups(), "dhms", strict=True)
            if part
        )
    else:
        raise DurationError(_expected(value))
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(f"must be more than 0 seconds, got {value!r}")
    if seconds > LONGEST_S:
        raise DurationError(f"must be at most a year ({LONGEST_S:.0f} s), got {value!r}")
    return seconds


def describe_duration(seconds: float) -> str:
    """``5400.0`` -> ``"1h30m"``, ``2.5`` -> ``"2.5s"``: a limit as a person writes it."""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    parts, left = [], int(seconds)
    for unit, size in UNIT_SECONDS.items():
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)


def _expected(value: Any) -> str:
    return (
        'expected seconds (a number) or a duration such as "90s", "45m", "2h" or "1h30m", '
        f"got {value!r}"
    )
