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

# The largest seed every consumer accepts: numpy's legacy ``np.random.seed`` (what a user's
# script often calls) takes 0 .. 2**32 - 1; torch takes up to 2**64 - 1 and the analysis
# tables hold seeds as Int64, so this is the strictest of them.
MAX_SEED = 2**32 - 1


def check_seed_range(seeds: tuple[int, ...] | list[int], key: str) -> None:
    """Refuse a seed no backend could take: beyond :data:`MAX_SEED` (or negative).

    Args:
        seeds: the seeds.
        key: the dotted key (or flag) they came from, for the message.

    Raises:
        SpecError: naming the key, the first bad seed and the range.
    """
    bad = next((seed for seed in seeds if not 0 <= seed <= MAX_SEED), None)
    if bad is not None:
        raise SpecError(
            f"seed {bad} is out of range: seeds must be integers from 0 to {MAX_SEED} "
            "(2**32 - 1, what numpy, torch and the analysis tables all accept)",
            key=key,
        )


def seed_list(
    value: Any, key: str, *, start: int = 0, avoid: tuple[int, ...] = ()
) -> tuple[int, ...]:
    """A seed count (the first N seeds from ``start`` not in ``avoid``) or an explicit list.

    Args:
        value: a count ``N`` or a list of distinct integers from 0 to :data:`MAX_SEED`, as
            written.
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
        check_seed_range(seeds, key)
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
        check_seed_range(value, key)
        return tuple(value)
    raise SpecError(
        f"expected a count or a non-empty list of non-negative integers, got {value!r}", key=key
    )
