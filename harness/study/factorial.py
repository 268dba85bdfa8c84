"""``[factors]``: a full or fractional factorial of config switches, expanded into variants.

::

    [factors]
    "model.protect_bos" = [true, false]          # each key a config key, each value its levels
    "model.allow_masking_myself" = [false, true]

gives one variant per cell, named from its levels (``protect_bos-true_allow_masking_myself-
false``, ...), each the base with those keys set; the baseline cell is every factor's first
level. With four or more two-level factors, ``design = "fraction"`` and ``resolution = 4`` (or
5, or 3) in the same table run a regular fractional factorial instead: the fewest cells that
reach the resolution, with the minimum-aberration generators found by pyDOE3
(``fracfact_opt``; ``fracfact_by_res`` above seven factors, where the exhaustive search gets
slow), signs chosen so that the baseline cell is one of the cells run. The alias structure
comes from the same library (``fracfact_aliasing``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import SpecError
from harness.study.sweep import sanitize_name
from harness.study.tables import deep_merge, nest
from harness.study.variant import resolve_variant, validate_config

SETTINGS = ("design", "resolution")
DESIGNS = ("full", "fraction")
RESOLUTIONS = (3, 4, 5)
# fracfact_opt searches generators exhaustively: about a second at seven factors.
EXHAUSTIVE_SEARCH_UP_TO = 7
COMMAND_FACTOR_TABLES = ("params", "env")

Design = Literal["full", "fraction"]


@dataclass(frozen=True, kw_only=True)
class Factor:
    """One factor: a dotted config key and its levels (the first is the reference level).

    Attributes:
        key: the config key, e.g. ``model.protect_bos`` or ``params.lr``.
        levels: its values, in the order written.
        label: the short name used in variant names and tables.
    """

    key: str
    levels: tuple[Any, ...]
    label: str


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One cell of the design: its variant name and each factor's value."""

    variant: str
    values: tuple[Any, ...]


@dataclass(frozen=True, kw_only=True)
class FactorialDesign:
    """A factorial study's design.

    Attributes:
        factors: the factors, in file order.
        design: ``full`` or ``fraction``.
        resolution: the fraction's resolution (None for a full factorial).
        generators: for a fraction, how each generated factor is set from the base factors,
            e.g. ``window_size = -attention:norm_placement:qk_norm``.
        defining_relation: the words equal to the identity, e.g. ``I = -A:B:C:D``.
        aliases: the alias classes of main effects and two-factor interactions,
            e.g. ``attention:norm_placement = -qk_norm:window_size``.
        cells: the cells run, the baseline (every first level) first.
    """

    factors: tuple[Factor, ...]
    design: Design
    resolution: int | None
    generators: tuple[str, ...]
    defining_relation: tuple[str, ...]
    aliases: tuple[str, ...]
    cells: tuple[Cell, ...]

    @property
    def baseline(self) -> str:
        return self.cells[0].variant

    def overrides(self, cell: Cell) -> dict[str, Any]:
        """The cell's nested overrides on ``[base]``."""
        return nest({f.key: value for f, value in zip(self.factors, cell.values, strict=True)})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``study.json``: what ``harness compare`` needs to find the
        effects (the factors with their level order and each cell's levels)."""
        return {
            "design": self.design,
            "resolution": self.resolution,
            "factors": [{"key": f.key, "levels": list(f.levels)} for f in self.factors],
            "cells": {
                c.variant: {f.key: v for f, v in zip(self.factors, c.values, strict=True)}
                for c in self.cells
            },
            "generators": list(self.generators),
            "defining_relation": list(self.defining_relation),
            "aliases": list(self.aliases),
        }


def parse_factors(table: Mapping[str, Any], *, base: Mapping[str, Any]) -> FactorialDesign:
    """Read a ``[factors]`` table and lay out its cells.

    Args:
        table: the ``[factors]`` table as parsed.
        base: the study's ``[base]`` table (every level is checked on it).

    Returns:
        The design; its cells' overrides come from :meth:`FactorialDesign.overrides`.

    Raises:
        SpecError: naming ``factors.<key>``: a key that is no config key, a level of the
            wrong type, fewer than two levels, a fraction that is not possible.
    """
    settings = {k: table[k] for k in SETTINGS if k in table}
    raw_factors = _flatten({k: v for k, v in table.items() if k not in SETTINGS})
    if not raw_factors:
        raise SpecError("needs at least one factor: 'dotted.key' = [levels]", key="factors")
    design = settings.get("design", "full")
    if design not in DESIGNS:
        raise SpecError(f"must be 'full' or 'fraction', got {design!r}", key="factors.design")
    labels = _labels(list(raw_factors))
    factors = tuple(
        Factor(key=key, levels=_levels(key, levels, base), label=label)
        for (key, levels), label in zip(raw_factors.items(), labels, strict=True)
    )
    if design == "fraction":
        resolution = settings.get("resolution", 4)
        if resolution not in RESOLUTIONS or isinstance(resolution, bool):
            raise SpecError(f"must be 3, 4 or 5, got {resolution!r}", key="factors.resolution")
        return _fraction(factors, int(resolution))
    if "resolution" in settings:
        raise SpecError(
            'a resolution applies only to design = "fraction"', key="factors.resolution"
        )
    rows = list(itertools.product(*[range(len(f.levels)) for f in factors]))
    return FactorialDesign(
        factors=factors,
        design="full",
        resolution=None,
        generators=(),
        defining_relation=(),
        aliases=(),
        cells=_cells(factors, rows),
    )


def check_variants(design: FactorialDesign, variants: Mapping[str, Any]) -> None:
    """Variants beside a factorial may not set a factor: that would blur which cell is which.

    Raises:
        SpecError: naming ``variants.<name>.<factor key>``.
    """
    for name, overrides in variants.items():
        if not isinstance(overrides, Mapping):
            continue
        written = _flatten(overrides)
        for factor in design.factors:
            for key in written:
                if key == factor.key or key.startswith(factor.key + "."):
                    raise SpecError(
                        f"'{factor.key}' is a factor: [factors] sets it in every cell, so a "
                        "variant beside the factorial may not set it too",
                        key=f"variants.{name}.{factor.key}",
                    )


def cell_variants(design: FactorialDesign, base: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each cell's variant name -> its overrides, every resolved config validated.

    Raises:
        SpecError: a combination of levels that is not a valid config, naming ``factors``.
    """
    tables = {}
    for cell in design.cells:
        overrides = design.overrides(cell)
        try:
            resolve_variant(cell.variant, base, overrides)
        except SpecError as error:
            raise SpecError(
                f"the cell '{cell.variant}' is not a valid config: {error.message}",
                key="factors",
            ) from None
        tables[cell.variant] = overrides
    return tables


# -- reading the table -------------------------------------------------------------------------


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"qk_norm": [...]}}`` and ``{"model.qk_norm": [...]}`` both read as the
    dotted key ``model.qk_norm`` (TOML nests unquoted dotted keys)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _levels(key: str, levels: Any, base: Mapping[str, Any]) -> tuple[Any, ...]:
    where = f"factors.{key}"
    if "." not in key:
        raise SpecError(
            "a factor is a dotted config key such as 'model.protect_bos' or 'params.lr'",
            key=where,
        )
    if not isinstance(levels, list) or len(levels) < 2:
        raise SpecError("needs a list of at least two levels", key=where)
    for level in levels:
        if not isinstance(level, bool | int | float | str):
            raise SpecError(f"levels are true/false, numbers or strings, got {level!r}", key=where)
    if len({(type(v), v) for v in levels}) != len(levels):
        raise SpecError(f"lists a level twice: {levels}", key=where)
    for level in levels:
        _check_level(key, level, base)
    return tuple(levels)


def _check_level(key: str, level: Any, base: Mapping[str, Any]) -> None:
    """The base with ``key = level`` must be a valid config of the base's kind."""
    where = f"factors.{key}"
    if "command" in base:
        table = key.split(".", 1)[0]
        if table not in COMMAND_FACTOR_TABLES:
            raise SpecError(
                "a command study's factors are 'params.<name>' (a {name} placeholder) or "
                "'env.<NAME>'",
                key=where,
            )
        name = key.split(".", 1)[1]
        if table == "params" and "{" + name + "}" not in str(base["command"]):
            raise SpecError(
                f"the command has no {{{name}}} placeholder, so this factor would change nothing",
                key=where,
            )
    try:
        validate_config(deep_merge(base, nest({key: level})), where="factors")
    except SpecError as error:
        raise SpecError(
            f"level {level!r}: {error.message}",
            key=error.key or where,
            suggestion=error.suggestion,
        ) from None


def _labels(keys: list[str]) -> list[str]:
    """The last part of each key, or the whole key where that would be ambiguous."""
    last = [k.split(".")[-1] for k in keys]
    return [short if last.count(short) == 1 else key for short, key in zip(last, keys, strict=True)]


def _cells(factors: Sequence[Factor], rows: Sequence[Sequence[int]]) -> tuple[Cell, ...]:
    cells = []
    seen: set[str] = set()
    for row in rows:
        values = tuple(f.levels[j] for f, j in zip(factors, row, strict=True))
        name = sanitize_name(
            "_".join(f"{f.label}-{_level_text(v)}" for f, v in zip(factors, values, strict=True))
        )
        if name in seen:
            raise SpecError(f"two cells are both named '{name}'", key="factors")
        seen.add(name)
        cells.append(Cell(variant=name, values=values))
    return tuple(cells)


def _level_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- fractions ---------------------------------------------------------------------------------


def _fraction(factors: tuple[Factor, ...], resolution: int) -> FactorialDesign:
    for factor in factors:
        if len(factor.levels) != 2:
            raise SpecError(
                f"a fractional design needs two levels per factor; '{factor.key}' has "
                f"{len(factor.levels)}",
                key=f"factors.{factor.key}",
            )
    n = len(factors)
    if n < 4:
        raise SpecError(
            f"a fraction needs four or more two-level factors; with {n} run the full "
            f'factorial ({2**n} cells): drop design = "fraction"',
            key="factors.design",
        )
    generator = _generator(n, resolution)
    if generator is None:
        raise SpecError(
            f"no fraction of {n} two-level factors reaches resolution {resolution}: run the "
            f"full factorial ({2**n} cells) or ask for a lower resolution",
            key="factors.resolution",
        )
    import numpy as np
    from pyDOE3 import fracfact, fracfact_aliasing

    signed = _baseline_signs(generator)
    matrix = fracfact(" ".join(signed))
    rows = [[0 if v < 0 else 1 for v in row] for row in matrix.tolist()]
    names = [f.label for f in factors]
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word(letters_of: str) -> str:
        return ":".join(names[letters.index(c)] for c in letters_of)

    generators = tuple(
        f"{names[i]} = {'-' if token.startswith('-') else ''}{word(token.lstrip('-'))}"
        for i, token in enumerate(signed)
        if len(token.lstrip("-")) > 1
    )
    # The library names alias classes on the unsigned design (signs do not change which
    # effects are aliased); the signs are read off the design that runs.
    readable, _ = fracfact_aliasing(fracfact(" ".join(generator)))
    aliases = []
    for group in readable:
        words = [w.strip() for w in group.split("=")]
        if len(words) < 2 or len(words[0]) > 2:
            continue
        first = [letters.index(c) for c in words[0]]
        parts = [word(words[0])]
        for other in words[1:]:
            columns = [letters.index(c) for c in other]
            same = np.array_equal(
                np.prod(matrix[:, first], axis=1), np.prod(matrix[:, columns], axis=1)
            )
            parts.append(("" if same else "-") + word(other))
        aliases.append(" = ".join(parts))
    defining = tuple(
        f"I = {'' if np.all(np.prod(matrix[:, list(c)], axis=1) > 0) else '-'}"
        f"{':'.join(names[i] for i in c)}"
        for size in range(1, n + 1)
        for c in itertools.combinations(range(n), size)
        if abs(np.prod(matrix[:, list(c)], axis=1).sum()) == len(matrix)
    )
    return FactorialDesign(
        factors=factors,
        design="fraction",
        resolution=_resolution(matrix),
        generators=generators,
        defining_relation=defining,
        aliases=tuple(aliases),
        cells=_cells(factors, rows),
    )


def _generator(n: int, resolution: int) -> list[str] | None:
    """pyDOE3's generator (one token per factor, ``a b c abc``) of the smallest regular
    fraction of ``n`` two-level factors with at least ``resolution``; None when only the full
    factorial has it."""
    from pyDOE3 import fracfact, fracfact_by_res, fracfact_opt

    for erased in range(n - (resolution - 1), 0, -1):  # fewest cells first
        try:
            if n <= EXHAUSTIVE_SEARCH_UP_TO:
                generator = str(fracfact_opt(n, erased)[0]).split()
            else:
                return _by_resolution(fracfact_by_res(n, resolution), n)
        except ValueError:  # the library cannot erase that many factors
            continue
        if _resolution(fracfact(" ".join(generator))) >= resolution:
            return generator
    return None


def _by_resolution(matrix: Any, n: int) -> list[str] | None:
    """Read the generator back from a ``fracfact_by_res`` design (its base factors are the
    columns that vary independently)."""
    import numpy as np

    runs = len(matrix)
    base = int(np.log2(runs))
    letters = "abcdefghijklmnopqrstuvwxyz"[:base]
    tokens = list(letters)
    for column in range(base, n):
        for size in range(2, base + 1):
            for combo in itertools.combinations(range(base), size):
                product = np.prod(matrix[:, list(combo)], axis=1)
                if np.array_equal(product, matrix[:, column]):
                    tokens.append("".join(letters[i] for i in combo))
                    break
            else:
                continue
            break
    return tokens if len(tokens) == n else None


def _baseline_signs(generator: Sequence[str]) -> list[str]:
    """Signs on the generated factors so that the run with every base factor at its first
    level (-1) has every generated factor at its first level too: the baseline cell runs."""
    return [
        ("-" + token) if len(token) > 1 and len(token) % 2 == 0 else token for token in generator
    ]


def _resolution(matrix: Any) -> int:
    """The length of the shortest word of the defining relation (0 for a full factorial)."""
    import numpy as np

    n = matrix.shape[1]
    for size in range(1, n + 1):
        for combo in itertools.combinations(range(n), size):
            if abs(np.prod(matrix[:, list(combo)], axis=1).sum()) == len(matrix):
                return size
    return 0


def design_lines(design: FactorialDesign) -> list[str]:
    """What ``harness validate`` prints about the design."""
    lines = [
        f"factorial: {len(design.factors)} factors, "
        + (
            f"full factorial, {len(design.cells)} cells"
            if design.design == "full"
            else f"resolution {_roman(design.resolution)} fraction, {len(design.cells)} of "
            f"{_grid_size(design)} cells"
        )
        + f"; baseline cell {design.baseline}",
    ]
    for factor in design.factors:
        levels = ", ".join(_level_text(v) for v in factor.levels)
        lines.append(f"  {factor.key}: {levels} (reference {_level_text(factor.levels[0])})")
    lines.append("cells:")
    for cell in design.cells:
        levels = ", ".join(
            f"{f.label}={_level_text(v)}" for f, v in zip(design.factors, cell.values, strict=True)
        )
        lines.append(f"  {cell.variant}: {levels}")
    if design.design == "fraction":
        lines.append("generators: " + "; ".join(design.generators))
        lines.append("defining relation: " + "; ".join(design.defining_relation))
        lines.append("aliases (main effects and two-factor interactions; higher ones assumed 0):")
        lines += [f"  {alias}" for alias in design.aliases]
    return lines


def _grid_size(design: FactorialDesign) -> int:
    size = 1
    for factor in design.factors:
        size *= len(factor.levels)
    return size


def _roman(value: int | None) -> str:
    return {3: "III", 4: "IV", 5: "V", 6: "VI"}.get(value or 0, str(value))
