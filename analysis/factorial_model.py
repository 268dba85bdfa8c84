"""The linear model behind :func:`analysis.factorial`: effect-coded factor terms plus one
intercept per seed (seed fixed effects), fitted by least squares with numpy.

Why its own small model rather than :mod:`analysis.blocked` (``y ~ variant + seed``): that fit
needs every cell to have runs, while here a cell may be missing (lost, or left out by a
fractional design). With the terms written out as effect-coded columns, the model keeps every
term the data can estimate — all of them on a complete table (the saturated cell-means model,
so the effects are exactly the issue's cell-mean contrasts), one term per alias class on a
regular fraction, and the lower-order terms when cells are lost — and says which it dropped.

Terms are added in hierarchical order (main effects, then two-factor interactions, ...); a term
joins when its columns raise the rank of the design by their full width. A two-level term
whose column equals ± the column of a term already in the model is *aliased* with it (a
fraction's defining relation shows up this way); any other term that adds no rank is *not
estimable* and is assumed zero by the fit.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.distributions import FloatArray
from analysis.unequal_variances import GroupVarianceFit, fit_group_variances

# Relative singular-value cut-off for the rank of a design (columns are small integers).
RANK_TOLERANCE = 1e-9
# A residual sd this small relative to the values is an exact fit up to rounding.
EXACT_FIT = 1e-10


@dataclass(frozen=True, kw_only=True)
class ModelTerm:
    """One term of the model: a set of factors (indices), its columns in the design.

    Attributes:
        factors: indices of the factors the term multiplies (one for a main effect).
        columns: the term's column indices in the design matrix (after the seed columns).
    """

    factors: tuple[int, ...]
    columns: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Alias:
    """A term left out because it is ± another term of the model on the cells that ran (``of``
    empty: ± the mean, i.e. a word of a fraction's defining relation)."""

    factors: tuple[int, ...]
    of: tuple[int, ...]
    sign: int


@dataclass(frozen=True, kw_only=True)
class FactorialFit:
    """A least-squares fit of ``y ~ terms + factor(seed)``.

    Attributes:
        n_levels: levels per factor.
        n_seeds: distinct seeds (one intercept each).
        terms: the terms in the model, hierarchical order.
        aliases: terms left out because they are ± a term in the model.
        not_estimable: terms left out for any other reason (assumed zero).
        beta: coefficients: the seed intercepts, then the term columns.
        unscaled_cov: ``(X'X)^-1``: the covariance of ``c'beta`` is ``sigma^2 c' V c``.
        sigma: residual sd (NaN without residual df).
        df_resid: ``runs - rank``.
        n_runs: rows fitted.
        cells_run: ``(C, F)`` level indices of the cells with at least one run.
        runs_per_cell: ``(C,)`` runs in each of those cells.
        cell_variances: the same least-squares fit with one error variance per cell (a
            noisier cell keeps its own noise): the effects' standard errors and df come from
            it (:mod:`analysis.unequal_variances`, docs/statistics.md).
    """

    n_levels: tuple[int, ...]
    n_seeds: int
    terms: tuple[ModelTerm, ...]
    aliases: tuple[Alias, ...]
    not_estimable: tuple[tuple[int, ...], ...]
    beta: FloatArray
    unscaled_cov: FloatArray
    sigma: float
    df_resid: int
    n_runs: int
    cells_run: np.ndarray
    runs_per_cell: np.ndarray
    cell_variances: GroupVarianceFit
    term_index: dict[tuple[int, ...], ModelTerm] = field(default_factory=dict, repr=False)

    def term_rows(self, cells: np.ndarray) -> FloatArray:
        """The term columns evaluated at ``cells`` (``(G, F)`` level indices): ``(G, p)``."""
        width = sum(len(t.columns) for t in self.terms)
        rows = np.zeros((len(cells), width))
        for term in self.terms:
            rows[:, list(term.columns)] = term_block(cells, term.factors, self.n_levels)
        return rows

    def prediction_rows(self, cells: np.ndarray) -> FloatArray:
        """Rows ``a`` such that ``a @ beta`` is each cell's mean averaged over the seeds
        (equally weighted, as R's emmeans does): ``(G, S + p)``."""
        seeds = np.full((len(cells), self.n_seeds), 1.0 / self.n_seeds)
        return np.hstack([seeds, self.term_rows(cells)])

    @functools.cached_property
    def unit_design_cov(self) -> FloatArray:
        """``(Z'Z)^-1`` of one run per cell that ran and a single intercept: the unscaled
        covariance of the term coefficients per seed, for seed-count advice (the covariance
        with ``n`` seeds per cell is this divided by ``n`` on a balanced table)."""
        rows = self.term_rows(self.cells_run)
        design = np.hstack([np.ones((len(rows), 1)), rows])
        full = np.linalg.pinv(design.T @ design)
        return np.asarray(full[1:, 1:], dtype=np.float64)


def coding(n_levels: int) -> FloatArray:
    """Sum-to-zero (effect) coding: level 0 is ``-1`` in every column, level ``j`` is the unit
    vector ``e_(j-1)``; a two-level factor is the single column ``-1 / +1``."""
    codes = np.zeros((n_levels, n_levels - 1))
    codes[0, :] = -1.0
    codes[1:, :] = np.eye(n_levels - 1)
    return codes


def term_block(cells: np.ndarray, factors: Sequence[int], n_levels: Sequence[int]) -> FloatArray:
    """The columns of the term over ``factors`` at ``cells``: the row-wise Kronecker product
    of each factor's coding."""
    block = np.ones((len(cells), 1))
    for f in factors:
        codes = coding(n_levels[f])[cells[:, f]]  # (G, k_f - 1)
        block = (block[:, :, None] * codes[:, None, :]).reshape(len(cells), -1)
    return block


def _rank(matrix: FloatArray) -> int:
    if matrix.shape[1] == 0:
        return 0
    singular = np.linalg.svd(matrix, compute_uv=False)
    return int((singular > RANK_TOLERANCE * max(singular[0], 1.0)).sum())


def fit_factorial(
    cells: np.ndarray, seeds: np.ndarray, y: np.ndarray, n_levels: Sequence[int]
) -> FactorialFit:
    """Fit ``y ~ (every estimable factor term) + factor(seed)`` by least squares.

    Args:
        cells: ``(n, F)`` level index of each run on each factor.
        seeds: ``(n,)`` the run's seed (any integers).
        y: ``(n,)`` the metric (finite).
        n_levels: levels per factor.

    Returns:
        The fit; see :class:`FactorialFit`.
    """
    n = len(y)
    n_levels = tuple(int(k) for k in n_levels)
    _, seed_index = np.unique(seeds, return_inverse=True)
    n_seeds = int(seed_index.max()) + 1
    seed_columns = np.zeros((n, n_seeds))
    seed_columns[np.arange(n), seed_index] = 1.0
    design = seed_columns
    rank = _rank(design)
    terms: list[ModelTerm] = []
    aliases: list[Alias] = []
    not_estimable: list[tuple[int, ...]] = []
    width = 0
    single_columns: dict[tuple[int, ...], FloatArray] = {}
    for order in range(1, len(n_levels) + 1):
        for factors in itertools.combinations(range(len(n_levels)), order):
            block = term_block(cells, factors, n_levels)
            candidate = np.hstack([design, block])
            new_rank = _rank(candidate)
            if new_rank == rank + block.shape[1]:
                columns = tuple(range(width, width + block.shape[1]))
                terms.append(ModelTerm(factors=factors, columns=columns))
                design, rank, width = candidate, new_rank, width + block.shape[1]
                if block.shape[1] == 1:
                    single_columns[factors] = block[:, 0]
                continue
            alias = _alias_of(block, single_columns) if block.shape[1] == 1 else None
            if alias is not None:
                aliases.append(Alias(factors=factors, of=alias[0], sign=alias[1]))
            else:
                not_estimable.append(factors)
    unscaled = np.linalg.pinv(design.T @ design)
    beta = unscaled @ (design.T @ y)
    residual = y - design @ beta
    df_resid = n - rank
    rss = float(residual @ residual)
    sigma = float(np.sqrt(rss / df_resid)) if df_resid > 0 else float("nan")
    if sigma <= EXACT_FIT * max(float(np.abs(y).max()), 1e-300):  # rounding error, not noise
        sigma = 0.0
    cells_run, cell_of_run, runs_per_cell = np.unique(
        cells, axis=0, return_inverse=True, return_counts=True
    )
    return FactorialFit(
        n_levels=n_levels,
        n_seeds=n_seeds,
        terms=tuple(terms),
        aliases=tuple(aliases),
        not_estimable=tuple(not_estimable),
        beta=np.asarray(beta, dtype=np.float64),
        unscaled_cov=np.asarray(unscaled, dtype=np.float64),
        sigma=sigma,
        df_resid=int(df_resid),
        n_runs=n,
        cells_run=cells_run,
        runs_per_cell=runs_per_cell,
        cell_variances=fit_group_variances(design, y, cell_of_run.reshape(-1)),
        term_index={t.factors: t for t in terms},
    )


def _alias_of(
    block: FloatArray, single_columns: dict[tuple[int, ...], FloatArray]
) -> tuple[tuple[int, ...], int] | None:
    column = block[:, 0]
    if np.all(column == column[0]):  # constant on the cells run: a word of the defining relation
        return (), int(np.sign(column[0]))
    for factors, other in single_columns.items():
        if np.array_equal(column, other):
            return factors, 1
        if np.array_equal(column, -other):
            return factors, -1
    return None
