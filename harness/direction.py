"""Whether lower or higher is better: the one ``Direction`` type of harness.

``analysis`` keeps its own check of the same two words, since it never imports harness.
"""

from __future__ import annotations

from typing import Any, Literal, TypeGuard

from harness.errors import SpecError, closest

Direction = Literal["minimize", "maximize"]
DIRECTIONS: tuple[Direction, ...] = ("minimize", "maximize")


def is_direction(value: Any) -> TypeGuard[Direction]:
    """Whether ``value`` is "minimize" or "maximize"."""
    return value in DIRECTIONS


def parse_direction(value: Any, key: str) -> Direction:
    """``value`` as a Direction.

    Args:
        value: what the study file (or a stored study) says.
        key: the dotted key it came from, for the error.

    Raises:
        SpecError: anything but "minimize" or "maximize", with the closest of the two.
    """
    if not is_direction(value):
        raise SpecError(
            f"must be 'minimize' or 'maximize', got {value!r}",
            key=key,
            suggestion=closest(str(value), DIRECTIONS),
        )
    return value
