"""Seed lists as a study file writes them: a count or an explicit list."""

from __future__ import annotations

from typing import Any

from harness.errors import SpecError


def default_seeds(count: int) -> tuple[int, ...]:
    """The documented expansion of ``seeds = N``: the seeds 0, 1, ..., N-1.

    Growing N keeps the earlier seeds, so ``--seeds 5`` on a 3-seed study adds seeds 3 and 4.
    """
    return tuple(range(count))


# More seeds than this is a typo (or a count meant for another key): the expansion alone would
# fill the memory long before any run started.
MAX_SEEDS = 10_000


def seed_list(
    value: Any, key: str, *, start: int = 0, avoid: tuple[int, ...] = ()
) -> tuple[int, ...]:
    """A seed count (the first N seeds from ``start`` not in ``avoid``) or an explicit list.

    Args:
        value: a count ``N`` or a list of distinct non-negative integers, as written.
        key: the dotted key it was written under, for errors (``study.seeds``).
        start: where a count starts counting (fresh seeds count from 1000).
        avoid: seeds a count skips (fresh seeds skip the search seeds).

    Returns:
        The seeds, in order.

    Raises:
        SpecError: anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SpecError("needs at least 1 seed", key=key)
        if value > MAX_SEEDS:
            raise SpecError(f"at most {MAX_SEEDS} seeds per study, got {value}", key=key)
        seeds: list[int] = []
        candidate = start
        while len(seeds) < value:
            if candidate not in avoid:
                seeds.append(candidate)
            candidate += 1
        return tuple(seeds)
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if len(value) > MAX_SEEDS:
            raise SpecError(f"at most {MAX_SEEDS} seeds per study, got {len(value)}", key=key)
        if len(set(value)) != len(value):
            raise SpecError("seeds must be distinct", key=key)
        return tuple(value)
    raise SpecError(
        f"expected a count or a non-empty list of non-negative integers, got {value!r}", key=key
    )
