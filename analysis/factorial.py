"""Factorial studies: main effects and interactions of several switches at once.

The statistics (docs/analysis.md, "Factorial studies", says the same at more length):

- **Model.** ``y = seed intercept + factor terms + noise``: least squares with one intercept per
  seed (the seed is a block, as the paired design of a study makes it) and every factor term
  the cells that ran can estimate (:mod:`analysis.factorial_model`). On a complete table this
  is the saturated cell-means model, R's ``lm(y ~ A * B * ... + factor(seed))``.
- **Effects** are contrasts of the model's cell means, every cell of the full grid weighted
  equally. Two-level factor: main effect = mean at its second level minus at its first,
  averaged over the other factors; two-factor interaction = the difference of differences
  ``((A2,B2) - (A1,B2)) - ((A2,B1) - (A1,B1))``, averaged over the rest. A factor with more
  levels gets one contrast per level against its first level, and an omnibus F-test of all of
  them; an interaction involving it gets its difference-of-differences contrasts and an
  omnibus F. Estimates and CIs are in metric units.
- **Sums of squares.** Each effect is tested given every other term in the model, cells
  weighted equally: Type III. With unbalanced seeds (lost runs) the estimates are the
  seed-adjusted least-squares contrasts; on a balanced, complete table Types I, II and III
  coincide. A term the data cannot estimate (a cell with no runs at all) is left out of the
  model and assumed zero, and the result says so; on a fractional design a term aliased with
  another is reported with its aliases (its estimate is their signed sum).
- **One family.** Every test (t-tests of contrasts, omnibus F-tests, and with a margin the
  TOST equivalence tests of the contrasts) is adjusted together by Holm, so the chance that
  the report makes any false claim is at most alpha.
- **Verdicts.** A main-effect contrast is ``better``/``worse`` (switching from the first level
  to the other, direction-aware) when its adjusted p ``<= alpha``, else ``equivalent`` when a
  margin is given and its adjusted TOST p ``<= alpha``, else ``indistinguishable``. An
  interaction is ``interaction``, ``equivalent`` or ``indistinguishable``; an omnibus main
  effect ``differs`` or ``indistinguishable``. ``not estimable`` where the data have no test.
- **Seeds needed**: seeds per cell at which each effect, if its true size were the estimate,
  would be detected with 80 % power at ``alpha / number of tests`` (noncentral t, or
  noncentral F for an omnibus test), the cells as they ran.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from analysis import stats
from analysis.compare import AnalysisError
from analysis.distributions import FloatArray, t_inference
from analysis.factorial_model import FactorialFit, fit_factorial
from analysis.lost_runs import worst_case_stands, worst_value
from analysis.power import t_power
from analysis.unequal_variances import contrast_covariance, contrasts_with_group_variances
from analysis.verdict import Direction, Verdict, Withheld, improvement

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Effect", "FactorialResult", "MarginalMean", "factorial", "factorial_values"]

POWER = 0.8
MAX_SEEDS = 10_000
SUMS_OF_SQUARES = "Type III"


@dataclass(frozen=True, kw_only=True)
class Effect:
    """One tested effect.

    Attributes:
        term: the factor key (``model.protect_bos``), ``A:B`` for an interaction, and
            ``A[level]`` for a contrast of a many-level factor's level against its first.
        kind: ``main`` or ``interaction``.
        test: ``t`` (one contrast) or ``F`` (omnibus over a many-level factor's contrasts).
        factors: the factor keys involved.
        levels: per factor, the level compared with the first (the second level for a
            two-level factor; empty for an omnibus test).
        estimate: in metric units (NaN for an omnibus test); ci_low / ci_high: its
            unadjusted ``1 - alpha`` CI.
        std_error, statistic, df: the test; ``df`` is Satterthwaite's, from the cells' own
            variances (the F test's denominator df; ``df_num`` > 1 for F).
        p_value, p_adjusted: two-sided p, and adjusted over the whole family (Holm).
        tost_p_adjusted: with a margin, the adjusted p of the TOST equivalence test.
        verdict: see the module docstring.
        seeds_needed: seeds per cell that detect the estimated effect with 80 % power; None
            when it cannot be computed (no noise estimate, a zero estimate, too many).
        aliases: terms aliased with this one on the cells that ran (``-C:D`` when the sign
            is negative): the estimate is their signed sum.
        withheld: ``lost_runs`` when a two-level main effect's "better"/"worse" did not
            survive the worst-case rule (the winning level's lost runs at the table's worst
            value); its verdict is then ``indistinguishable``.
    """

    term: str
    kind: Literal["main", "interaction"]
    test: Literal["t", "F"]
    factors: tuple[str, ...]
    levels: tuple[str, ...]
    estimate: float
    ci_low: float
    ci_high: float
    std_error: float
    statistic: float
    df: float
    df_num: int
    p_value: float
    p_adjusted: float
    tost_p_adjusted: float | None
    verdict: Verdict
    seeds_needed: int | None
    aliases: tuple[str, ...] = ()
    withheld: Withheld | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "kind": self.kind,
            "test": self.test,
            "factors": list(self.factors),
            "levels": list(self.levels),
            "estimate": _number(self.estimate),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "std_error": _number(self.std_error),
            "statistic": _number(self.statistic),
            "df": self.df,
            "df_num": self.df_num,
            "p_value": _number(self.p_value),
            "p_adjusted": _number(self.p_adjusted),
            "tost_p_adjusted": _number(self.tost_p_adjusted),
            "verdict": self.verdict,
            "seeds_needed": self.seeds_needed,
            "aliases": list(self.aliases),
            "withheld": self.withheld,
        }


@dataclass(frozen=True, kw_only=True)
class MarginalMean:
    """The model's mean at some factors' levels, averaged over the other factors and the
    seeds (a least-squares mean), with its ``1 - alpha`` t interval.

    Attributes:
        factors: the factor keys (one or two).
        levels: their levels.
        mean, ci_low, ci_high: in metric units.
        n_runs: runs at those levels.
    """

    factors: tuple[str, ...]
    levels: tuple[str, ...]
    mean: float
    ci_low: float
    ci_high: float
    n_runs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "factors": list(self.factors),
            "levels": list(self.levels),
            "mean": _number(self.mean),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "n_runs": self.n_runs,
        }


@dataclass(frozen=True, kw_only=True)
class FactorialResult:
    """Everything :func:`factorial` found; ``to_dict()`` is the ``--format json`` output.

    Attributes:
        metric, direction, alpha, margin: as passed.
        factors: factor key -> its levels (first = reference).
        effects: main effects first, then interactions, in factor order.
        means: least-squares means of every level and every pair of levels.
        sigma: residual sd of the model (run-to-run noise within a seed).
        df_resid: residual degrees of freedom.
        n_runs, n_seeds: rows and distinct seeds fitted.
        cells_run, cells_total: cells with runs, cells in the full grid.
        model: which terms the model holds, in words.
        sums_of_squares: ``Type III``.
        n_tests: size of the Holm family.
        warnings: what the reader should know before trusting the verdicts.
        lost_runs: runs of the design that diverged or failed (given ``lost``): the
            estimates come from the surviving runs only (``survivors_only`` in JSON).
    """

    metric: str
    direction: Direction
    alpha: float
    margin: float | None
    factors: Mapping[str, tuple[str, ...]]
    effects: tuple[Effect, ...]
    means: tuple[MarginalMean, ...]
    sigma: float
    df_resid: int
    n_runs: int
    n_seeds: int
    cells_run: int
    cells_total: int
    model: str
    sums_of_squares: str
    n_tests: int
    warnings: tuple[str, ...] = ()
    lost_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable result; non-finite numbers become None."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "alpha": self.alpha,
            "margin": self.margin,
            "factors": {k: list(v) for k, v in self.factors.items()},
            "effects": [e.to_dict() for e in self.effects],
            "means": [m.to_dict() for m in self.means],
            "sigma": _number(self.sigma),
            "df_resid": self.df_resid,
            "n_runs": self.n_runs,
            "n_seeds": self.n_seeds,
            "cells_run": self.cells_run,
            "cells_total": self.cells_total,
            "model": self.model,
            "sums_of_squares": self.sums_of_squares,
            "n_tests": self.n_tests,
            "correction": "holm",
            "warnings": list(self.warnings),
            "lost_runs": self.lost_runs,
            "survivors_only": self.lost_runs > 0,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def effect(self, term: str) -> Effect:
        """The effect named ``term`` (KeyError when there is none)."""
        for effect in self.effects:
            if effect.term == term:
                return effect
        raise KeyError(term)

    def pair_means(self, a: str, b: str) -> list[MarginalMean]:
        """The least-squares means of every (level of ``a``, level of ``b``)."""
        return [m for m in self.means if m.factors == (a, b)]


def level_label(value: Any) -> str:
    """How a level is written (and matched): ``true``/``false`` for booleans, ``0.001`` for
    floats, the text of anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def factorial(
    table: pl.DataFrame,
    *,
    factors: Mapping[str, Sequence[Any]] | Sequence[str],
    metric: str,
    alpha: float = 0.05,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    seed_column: str = "seed",
    lost: pl.DataFrame | None = None,
) -> FactorialResult:
    """Main effects and two-factor interactions of a factorial table, seeds as blocks.

    Args:
        table: one row per run: a column per factor, ``seed`` and the metric.
        factors: factor column -> its levels in order (the first is the reference level);
            or just the columns, whose levels are then taken in order of first appearance.
            Levels match the column's values as :func:`level_label` writes them.
        metric: the metric column.
        alpha: family-wise level (two-sided); CIs are ``1 - alpha``.
        margin: equivalence margin in metric units (enables ``equivalent``, TOST).
        direction: whether lower (``minimize``) or higher is better.
        seed_column: the seed column.
        lost: the runs that diverged or failed and left no value, as rows with the factor
            columns and the seed (no metric needed): a two-level main effect's "better" or
            "worse" stands only if it survives them counted at the winning level as the
            worst value of the table (:func:`analysis.lost_runs.worst_case_stands`).

    Returns:
        The effects, least-squares means and model description.

    Raises:
        AnalysisError: a missing column, a value that is not one of its factor's levels,
            fewer than two levels, or a table with no usable runs.
    """
    columns = list(factors)
    needed = [*columns, seed_column, metric]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise AnalysisError(
            f"no column {', '.join(repr(c) for c in missing)} (columns: {', '.join(table.columns)})"
        )
    values = table[metric].cast(float).to_numpy()
    keep = np.isfinite(values)
    levels: dict[str, tuple[str, ...]] = {}
    codes = np.zeros((table.height, len(columns)), dtype=np.int64)
    for index, column in enumerate(columns):
        observed = [level_label(v) for v in table[column].to_list()]
        if isinstance(factors, Mapping):
            order = tuple(level_label(v) for v in factors[column])
        else:
            order = tuple(dict.fromkeys(observed))
        if len(set(order)) != len(order):
            raise AnalysisError(f"factor {column!r} lists a level twice: {list(order)}")
        position = {label: i for i, label in enumerate(order)}
        strays = sorted({label for label in observed if label not in position})
        if strays:
            raise AnalysisError(
                f"factor {column!r} has values {strays} that are not among its levels {list(order)}"
            )
        levels[column] = order
        codes[:, index] = [position[label] for label in observed]
    seeds = table[seed_column].to_numpy()
    lost_codes = np.zeros((0, len(columns)), dtype=np.int64)
    lost_seeds = np.zeros(0, dtype=np.int64)
    if lost is not None and lost.height:
        lost_labels = [[level_label(v) for v in lost[c].to_list()] for c in columns]
        known = np.array([all(labels[i] in levels[c] for c, labels in
                              zip(columns, lost_labels, strict=True))
                          for i in range(lost.height)], dtype=bool)  # fmt: skip
        lost_codes = np.array(
            [[levels[c].index(labels[i]) for c, labels in zip(columns, lost_labels, strict=True)]
             for i in np.flatnonzero(known)], dtype=np.int64,
        ).reshape(-1, len(columns))  # fmt: skip
        lost_seeds = lost[seed_column].to_numpy()[known]
    return factorial_values(
        codes[keep],
        seeds[keep],
        values[keep],
        factors=levels,
        metric=metric,
        alpha=alpha,
        margin=margin,
        direction=direction,
        dropped=int((~keep).sum()),
        lost_cells=lost_codes,
        lost_seeds=lost_seeds,
    )


def factorial_values(
    cells: ArrayLike,
    seeds: ArrayLike,
    y: ArrayLike,
    *,
    factors: Mapping[str, Sequence[str]],
    metric: str = "metric",
    alpha: float = 0.05,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    dropped: int = 0,
    lost_cells: ArrayLike | None = None,
    lost_seeds: ArrayLike | None = None,
) -> FactorialResult:
    """:func:`factorial` on arrays (fast enough for simulations).

    Args:
        cells: ``(n, F)`` each run's level index on each factor (0 = the first level).
        seeds: ``(n,)`` each run's seed.
        y: ``(n,)`` the metric, finite.
        factors: factor key -> level names, in the column order of ``cells``.
        metric, alpha, margin, direction: as :func:`factorial`.
        dropped: runs left out before (non-finite metric), for the warning.
        lost_cells, lost_seeds: ``(m, F)`` level indices and ``(m,)`` seeds of the runs that
            diverged or failed: the worst-case rule (``factorial``'s ``lost``).
    """
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha must be between 0 and 1, got {alpha}")
    if margin is not None and not margin > 0:
        raise AnalysisError(f"the margin must be positive, got {margin}")
    names = list(factors)
    level_names = [tuple(factors[name]) for name in names]
    for name, options in zip(names, level_names, strict=True):
        if len(options) < 2:
            raise AnalysisError(f"factor {name!r} needs at least two levels, got {list(options)}")
    codes = np.asarray(cells, dtype=np.int64).reshape(-1, len(names))
    values = np.asarray(y, dtype=np.float64)
    seed_values = np.asarray(seeds)
    if values.size == 0:
        raise AnalysisError(f"no runs with a finite {metric}")
    n_levels = [len(options) for options in level_names]
    fit = fit_factorial(codes, seed_values, values, n_levels)
    grid = np.array(list(itertools.product(*[range(k) for k in n_levels])), dtype=np.int64)
    plans = _effect_plans(fit, grid, names, level_names)
    effects, n_tests = _test(plans, fit, alpha, margin, direction)
    lost_at = np.asarray(lost_cells if lost_cells is not None else (), dtype=np.int64)
    lost_at = lost_at.reshape(-1, len(names))
    lost_seed_values = np.asarray(lost_seeds if lost_seeds is not None else ())
    lost_notes: list[str] = []
    if lost_at.shape[0]:

        def refit(cells: np.ndarray, seeds: np.ndarray, y: np.ndarray) -> FactorialResult:
            return factorial_values(cells, seeds, y, factors=factors, metric=metric,
                                    alpha=alpha, margin=margin, direction=direction)  # fmt: skip

        effects, lost_notes = _worst_case_rule(
            effects, (codes, seed_values, values), (lost_at, lost_seed_values),
            names=names, level_names=level_names, direction=direction, refit=refit,
        )  # fmt: skip
    means = _means(fit, grid, codes, names, level_names, alpha)
    warnings = _warnings(fit, grid, names, level_names, dropped, effects) + lost_notes
    return FactorialResult(
        metric=metric,
        direction=direction,
        alpha=alpha,
        margin=margin,
        factors=dict(zip(names, level_names, strict=True)),
        effects=tuple(effects),
        means=tuple(means),
        sigma=fit.sigma,
        df_resid=fit.df_resid,
        n_runs=fit.n_runs,
        n_seeds=fit.n_seeds,
        cells_run=len(fit.cells_run),
        cells_total=len(grid),
        model=_model_words(fit, names),
        sums_of_squares=SUMS_OF_SQUARES,
        n_tests=n_tests,
        warnings=tuple(warnings),
        lost_runs=int(lost_at.shape[0]),
    )


# -- the effects as contrasts ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """An effect to test: its contrast rows over the coefficients (one row: t; more: F)."""

    term: str
    kind: Literal["main", "interaction"]
    factors: tuple[str, ...]
    levels: tuple[str, ...]
    rows: FloatArray  # (q, S + p)
    estimable: bool
    aliases: tuple[str, ...] = ()


def _contrast_weights(grid: np.ndarray, factor_levels: Sequence[tuple[int, int]]) -> FloatArray:
    """Weights over the grid cells of the (difference of) differences ``level j - level 0``
    for each (factor, j), every grid cell weighted equally."""
    weights = np.ones(len(grid))
    for factor, level in factor_levels:
        at = grid[:, factor]
        weights = weights * ((at == level).astype(float) - (at == 0).astype(float))
    # Each contrast compares cells that differ only in the named factors: average over the rest.
    share = np.abs(weights).sum() / 2 ** len(factor_levels)
    return weights / share


def _effect_plans(
    fit: FactorialFit, grid: np.ndarray, names: list[str], level_names: list[tuple[str, ...]]
) -> list[_Plan]:
    seed_zeros = np.zeros(fit.n_seeds)
    term_rows = fit.term_rows(grid)
    aliases = _alias_names(fit, names)
    reported_elsewhere = {alias.factors for alias in fit.aliases if alias.of}
    plans: list[_Plan] = []
    for order in (1, 2):
        for group in itertools.combinations(range(len(names)), order):
            if group in reported_elsewhere:  # among the aliases of the term it equals
                continue
            label = ":".join(names[f] for f in group)
            estimable = group in fit.term_index
            contrasts = list(itertools.product(*[range(1, len(level_names[f])) for f in group]))
            rows = np.array(
                [
                    np.concatenate(
                        [seed_zeros, _contrast_weights(grid, list(zip(group, js, strict=True)))
                         @ term_rows]
                    )
                    for js in contrasts
                ]
            )  # fmt: skip
            kind: Literal["main", "interaction"] = "main" if order == 1 else "interaction"
            factors = tuple(names[f] for f in group)
            if len(contrasts) > 1:
                plans.append(
                    _Plan(term=label, kind=kind, factors=factors, levels=(), rows=rows,
                          estimable=estimable, aliases=aliases.get(group, ()))
                )  # fmt: skip
            for js, row in zip(contrasts, rows, strict=True):
                two_level = all(len(level_names[f]) == 2 for f in group)
                term = label if two_level else ":".join(
                    names[f] if len(level_names[f]) == 2 else f"{names[f]}[{level_names[f][j]}]"
                    for f, j in zip(group, js, strict=True)
                )  # fmt: skip
                plans.append(
                    _Plan(
                        term=term,
                        kind=kind,
                        factors=factors,
                        levels=tuple(level_names[f][j] for f, j in zip(group, js, strict=True)),
                        rows=row[None, :],
                        estimable=estimable,
                        aliases=aliases.get(group, ()) if two_level else (),
                    )
                )
    return plans


def _alias_names(fit: FactorialFit, names: list[str]) -> dict[tuple[int, ...], tuple[str, ...]]:
    found: dict[tuple[int, ...], list[str]] = {}
    for alias in fit.aliases:
        text = ("-" if alias.sign < 0 else "") + ":".join(names[f] for f in alias.factors)
        found.setdefault(alias.of, []).append(text)
    return {k: tuple(v) for k, v in found.items()}


def _test(
    plans: list[_Plan],
    fit: FactorialFit,
    alpha: float,
    margin: float | None,
    direction: Direction,
) -> tuple[list[Effect], int]:
    """Estimates, tests, one Holm family, verdicts and seed advice for every plan."""
    testable = fit.df_resid >= 1 and math.isfinite(fit.sigma)
    noise_measured = testable and fit.sigma > 0
    raw: list[dict[str, Any]] = []
    for plan in plans:
        raw.append(_single(plan, fit, alpha, margin) if plan.rows.shape[0] == 1 else
                   _omnibus(plan, fit))  # fmt: skip
    # The family: every difference test and (with a margin) every TOST, testable ones only.
    family = [(i, "p") for i, r in enumerate(raw) if plans[i].estimable and testable]
    # An effect whose variance cannot be estimated (a cell with a single run and no variance
    # of its own) keeps its place with p = 1: the family size does not depend on the data.
    for i, key in family:
        if not math.isfinite(raw[i][key]):
            raw[i][key] = 1.0
            raw[i]["untestable"] = True
    family += [(i, "tost") for i, r in enumerate(raw) if r.get("tost") is not None and testable]
    adjusted = stats.holm(np.array([raw[i][key] for i, key in family], dtype=float))
    for (i, key), value in zip(family, adjusted, strict=True):
        raw[i][f"{key}_adjusted"] = float(value)
    level = alpha / max(len(family), 1)
    effects = []
    for plan, r in zip(plans, raw, strict=True):
        p_adjusted = r.get("p_adjusted", math.nan)
        tost_adjusted = r.get("tost_adjusted")
        verdict = _verdict(plan, r, p_adjusted, tost_adjusted, alpha, direction, noise_measured)
        untestable = bool(r.get("untestable"))
        if untestable:  # no variance of its own for some cell: no verdict, more seeds decide
            verdict, p_adjusted = Verdict.UNDECIDED, math.nan
        needed = _seeds_needed(plan, fit, r, level) if noise_measured and plan.estimable else None
        effects.append(
            Effect(
                term=plan.term,
                kind=plan.kind,
                test="t" if plan.rows.shape[0] == 1 else "F",
                factors=plan.factors,
                levels=plan.levels,
                estimate=r["estimate"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
                std_error=r["std_error"],
                statistic=r["statistic"],
                df=r["df"],
                df_num=plan.rows.shape[0],
                p_value=r["p"] if plan.estimable and testable and not untestable else math.nan,
                p_adjusted=p_adjusted,
                tost_p_adjusted=tost_adjusted,
                verdict=verdict,
                seeds_needed=needed,
                aliases=plan.aliases,
                withheld=Withheld.TOO_FEW_SEEDS if untestable else None,
            )
        )
    return effects, len(family)


def _single(plan: _Plan, fit: FactorialFit, alpha: float, margin: float | None) -> dict[str, Any]:
    """t-test of one contrast with the cells' own variances (Satterthwaite df): a noisier cell
    widens the effects it enters instead of borrowing the quiet cells' noise."""
    nan = math.nan
    result: dict[str, Any] = {"estimate": nan, "ci_low": nan, "ci_high": nan, "std_error": nan,
                              "statistic": nan, "p": nan, "tost": None, "df": nan}  # fmt: skip
    if not plan.estimable:
        return result
    test = contrasts_with_group_variances(fit.cell_variances, plan.rows, alpha=alpha)
    estimate = float(plan.rows[0] @ fit.beta)
    result["estimate"] = estimate
    std_error, df = float(test.std_error[0]), float(test.df[0])
    # No spread at all: exact, as the pooled model said (a zero standard error on its df).
    exact = fit.sigma == 0 and fit.df_resid >= 1
    if exact:
        std_error, df = 0.0, float(fit.df_resid)
    elif not (math.isfinite(std_error) and std_error > 0 and df > 0):
        return result  # a cell without a variance of its own: no test
    inference = t_inference(estimate, std_error, df, alpha=alpha)
    tost = None
    if margin is not None and not exact:
        tost = float(stats.tost_p(estimate, std_error, df, margin))
    result.update(
        ci_low=float(inference["ci_low"]),
        ci_high=float(inference["ci_high"]),
        std_error=std_error,
        statistic=float(inference["statistic"]),
        p=float(inference["p_value"]),
        tost=tost,
        df=df,
    )
    return result


def _omnibus(plan: _Plan, fit: FactorialFit) -> dict[str, Any]:
    """Wald F-test that every contrast of the plan is zero, with the cells' own variances; its
    denominator df is the smallest Satterthwaite df of the contrasts (conservative)."""
    nan = math.nan
    result = {"estimate": nan, "ci_low": nan, "ci_high": nan, "std_error": nan,
              "statistic": nan, "p": nan, "tost": None, "df": nan}  # fmt: skip
    if not plan.estimable or not fit.sigma > 0:
        return result
    b = plan.rows @ fit.beta
    q = plan.rows.shape[0]
    covariance, dfs = contrast_covariance(fit.cell_variances, plan.rows)
    if not (np.all(np.isfinite(covariance)) and np.all(np.isfinite(dfs))):
        return result
    try:
        statistic = float(b @ np.linalg.solve(covariance, b) / q)
    except np.linalg.LinAlgError:
        return result
    if not statistic >= 0:  # the estimated covariance is not positive definite
        return result
    df = float(dfs.min())
    result.update(statistic=statistic, df=df, p=float(special.fdtrc(q, df, statistic)))
    return result


def _worst_case_rule(
    effects: list[Effect],
    runs: tuple[np.ndarray, np.ndarray, np.ndarray],
    lost: tuple[np.ndarray, np.ndarray],
    *,
    names: list[str],
    level_names: list[tuple[str, ...]],
    direction: Direction,
    refit: Callable[[np.ndarray, np.ndarray, np.ndarray], FactorialResult],
) -> tuple[list[Effect], list[str]]:
    """The worst-case rule (:func:`analysis.lost_runs.worst_case_stands`) for every two-level
    main effect found better or worse: the cells at its winning level are the winner's rows of
    a cells x seeds table; the whole family is refitted with their lost runs at the worst value
    of the table. Interactions and many-level (omnibus) effects have no winning side: their
    verdicts come from the surviving runs, and a note says so."""
    codes, seeds, y = runs
    lost_codes, lost_seeds = lost
    cells = np.unique(np.concatenate([codes, lost_codes]), axis=0)
    seed_axis = np.unique(np.concatenate([seeds, lost_seeds]))

    def rows_of(at: np.ndarray) -> np.ndarray:
        return np.array([int(np.flatnonzero((cells == c).all(axis=1))[0]) for c in at], int)

    table = np.full((len(cells), len(seed_axis)), np.nan)
    table[rows_of(codes), np.searchsorted(seed_axis, seeds)] = y
    lost_mask = np.zeros(table.shape, dtype=bool)
    lost_mask[rows_of(lost_codes), np.searchsorted(seed_axis, lost_seeds)] = True
    worst = worst_value(y, direction)

    def verdict_again(imputed: np.ndarray, term: str) -> Verdict:
        at_row, at_seed = np.nonzero(np.isfinite(imputed))
        again = refit(cells[at_row], seed_axis[at_seed], imputed[at_row, at_seed])
        return again.effect(term).verdict

    kept: list[Effect] = []
    notes: list[str] = []
    for effect in effects:
        claim = effect.verdict in (Verdict.BETTER, Verdict.WORSE) and effect.test == "t"
        if not (claim and effect.kind == "main"):
            kept.append(effect)
            continue
        factor = names.index(effect.factors[0])
        compared = level_names[factor].index(effect.levels[0])
        winning = compared if effect.verdict == Verdict.BETTER else 0
        winner_rows = np.flatnonzero(cells[:, factor] == winning)
        stands = worst_case_stands(
            table,
            lost_mask,
            winner=[int(r) for r in winner_rows],
            loser=[int(r) for r in np.flatnonzero(cells[:, factor] != winning)],
            worst=worst,
            holds=functools.partial(_same_verdict, verdict_again, effect.term, effect.verdict),
        )
        if stands:
            kept.append(effect)
            continue
        kept.append(replace(effect, verdict=Verdict.INDISTINGUISHABLE, withheld=Withheld.LOST_RUNS))
        lost_there = int(lost_mask[winner_rows].sum())
        notes.append(
            f"{effect.term}: the cells at {level_names[factor][winning]} lost {lost_there} "
            f"run(s): counting each as the worst value in the table ({worst:.6g}), the effect "
            f"is no longer shown {effect.verdict}, so no claim is made (worst-case rule, "
            "docs/statistics.md)"
        )
    notes.append(
        f"{len(lost_codes)} run(s) of the design were lost: the estimates and intervals come "
        "from the surviving runs only ('survivors_only' in JSON), biased when the losses "
        "depend on the outcome; two-level main effects went through the worst-case rule, "
        "interactions and many-level effects did not (docs/statistics.md)"
    )
    return kept, notes


def _same_verdict(
    verdict_again: Callable[[np.ndarray, str], Verdict],
    term: str,
    verdict: Verdict,
    imputed: np.ndarray,
) -> bool:
    return verdict_again(imputed, term) == verdict


def _verdict(
    plan: _Plan,
    r: Mapping[str, Any],
    p_adjusted: float,
    tost_adjusted: float | None,
    alpha: float,
    direction: Direction,
    noise_measured: bool,
) -> Verdict:
    if not plan.estimable:
        return Verdict.NOT_ESTIMABLE
    if not noise_measured:  # zero spread or no residual df: the data cannot support a claim
        return Verdict.INDISTINGUISHABLE
    omnibus = plan.rows.shape[0] > 1
    if p_adjusted <= alpha:
        if plan.kind == "interaction":
            return Verdict.INTERACTION
        if omnibus:
            return Verdict.DIFFERS
        improves = improvement(r["estimate"], direction) > 0
        return Verdict.BETTER if improves else Verdict.WORSE
    if tost_adjusted is not None and tost_adjusted <= alpha:
        return Verdict.EQUIVALENT
    return Verdict.INDISTINGUISHABLE


def _seeds_needed(plan: _Plan, fit: FactorialFit, r: Mapping[str, Any], level: float) -> int | None:
    """Seeds per cell (the cells as they ran, each run on every seed) at which the estimated
    effect would be found with 80 % power at ``level``."""
    unit = fit.unit_design_cov
    width = fit.n_seeds
    rows = plan.rows[:, width:]
    b = plan.rows @ fit.beta
    if not np.all(np.isfinite(b)) or not np.any(b != 0):
        return None
    # Per seed and cell: the (unscaled) information about the contrasts.
    middle = rows @ unit @ rows.T
    strength = float(b @ np.linalg.solve(middle, b)) / fit.sigma**2
    q = rows.shape[0]
    cells = len(fit.cells_run)
    n_terms = sum(len(t.columns) for t in fit.terms)

    def power(n: np.ndarray) -> np.ndarray:
        df = n * cells - n - n_terms
        if q == 1:
            return t_power(np.sqrt(strength * n), np.maximum(df, 1), level)
        critical = special.fdtri(q, np.maximum(df, 1), 1.0 - level)
        return np.asarray(1.0 - special.ncfdtr(q, np.maximum(df, 1), strength * n, critical))

    # The normal approximation needs fewer seeds than the t (or F) test: past the cap by it,
    # past the cap for sure.
    z = special.ndtri(1.0 - level / 2.0) + special.ndtri(POWER)
    normal = z**2 / strength
    if normal > MAX_SEEDS:  # an F test with q > 1 needs more still
        return None
    # Power rises with n. Bracket around the normal approximation (the t needs a little more),
    # then a bisection that narrows by 32 per vectorised step.
    low = max(int(normal) - 1, 1)
    low = 1 if power(np.array([low]))[0] >= POWER else low
    high = min(int(2 * normal) + 10, MAX_SEEDS)
    if not power(np.array([high]))[0] >= POWER:
        low, high = high, MAX_SEEDS
        if not power(np.array([high]))[0] >= POWER:
            return None
    while high - low > 1:
        points = np.unique(np.linspace(low, high, 34)[1:-1].astype(np.int64))
        points = points[(points > low) & (points < high)]
        if points.size == 0:
            break
        reached = power(points) >= POWER
        first = int(np.argmax(reached)) if reached.any() else points.size
        high = int(points[first]) if first < points.size else high
        low = int(points[first - 1]) if first > 0 else low
    return max(high, 2)


# -- least-squares means -----------------------------------------------------------------------


def _means(
    fit: FactorialFit,
    grid: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    level_names: list[tuple[str, ...]],
    alpha: float,
) -> list[MarginalMean]:
    rows = fit.prediction_rows(grid)
    keys: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    groups: list[tuple[int, ...]] = [(f,) for f in range(len(names))]
    groups += list(itertools.combinations(range(len(names)), 2))
    for group in groups:
        keys += [
            (group, js) for js in itertools.product(*[range(len(level_names[f])) for f in group])
        ]
    # One averaging row per mean: the grid cells at those levels, equally weighted.
    averaging = np.array(
        [np.all(grid[:, list(group)] == np.array(js), axis=1) for group, js in keys], dtype=float
    )
    averaging /= averaging.sum(axis=1, keepdims=True)
    a = averaging @ rows
    centres = a @ fit.beta
    # Each mean's interval from the cells' own variances, at its own Satterthwaite df.
    test = contrasts_with_group_variances(fit.cell_variances, a, alpha=alpha)
    halves = centres - test.ci_low
    if fit.sigma == 0 and fit.df_resid >= 1:
        halves = np.zeros_like(centres)
    means = []
    for (group, js), mean, half in zip(keys, centres, halves, strict=True):
        n_runs = int(np.all(codes[:, list(group)] == np.array(js), axis=1).sum())
        means.append(
            MarginalMean(
                factors=tuple(names[f] for f in group),
                levels=tuple(level_names[f][j] for f, j in zip(group, js, strict=True)),
                mean=float(mean),
                ci_low=float(mean - half),
                ci_high=float(mean + half),
                n_runs=n_runs,
            )
        )
    return means


# -- words -------------------------------------------------------------------------------------


def _model_words(fit: FactorialFit, names: list[str]) -> str:
    orders = sorted({len(t.factors) for t in fit.terms})
    if not fit.aliases and not fit.not_estimable:
        return "saturated: every interaction of the factors, plus one intercept per seed"
    highest = max(orders) if orders else 0
    return (
        f"terms up to order {highest} that the cells can estimate "
        f"({len(fit.terms)} terms), plus one intercept per seed"
    )


def _warnings(
    fit: FactorialFit,
    grid: np.ndarray,
    names: list[str],
    level_names: list[tuple[str, ...]],
    dropped: int,
    effects: list[Effect],
) -> list[str]:
    warnings = []
    if dropped:
        warnings.append(f"{dropped} run(s) without a finite metric are left out")
    ran = {tuple(cell) for cell in fit.cells_run.tolist()}
    absent = [cell for cell in grid.tolist() if tuple(cell) not in ran]
    if absent:
        shown = "; ".join(
            ", ".join(f"{names[f]}={level_names[f][j]}" for f, j in enumerate(cell))
            for cell in absent[:4]
        )
        more = f" and {len(absent) - 4} more" if len(absent) > 4 else ""
        warnings.append(
            f"{len(absent)} of {len(grid)} cells have no runs ({shown}{more}): a fraction, or "
            "lost runs. Effects are estimated from the cells that ran, assuming the terms the "
            "model leaves out are zero"
        )
    if fit.not_estimable:
        terms = ", ".join(":".join(names[f] for f in t) for t in fit.not_estimable)
        warnings.append(f"not estimable from these cells (assumed zero): {terms}")
    aliased = [e for e in effects if e.aliases]
    if aliased:
        warnings.append(
            "aliased effects (their estimate is the signed sum of the aliases): "
            + "; ".join(f"{e.term} = {' = '.join(e.aliases)}" for e in aliased if e.test == "t")
        )
    counts = fit.runs_per_cell
    single = [cell for cell, n in zip(fit.cells_run.tolist(), counts, strict=True) if n < 2]
    if single and any(e.withheld == Withheld.TOO_FEW_SEEDS for e in effects):
        shown = "; ".join(
            ", ".join(f"{names[f]}={level_names[f][j]}" for f, j in enumerate(cell))
            for cell in single[:4]
        )
        warnings.append(
            f"{len(single)} cell(s) have a single run ({shown}): a single run has no noise of "
            "its own, so the effects that need it get no verdict (undecided); run 2 or more "
            "seeds of every cell"
        )
    if len(counts) and counts.min() != counts.max():
        warnings.append(
            f"unbalanced: cells have {counts.min()} to {counts.max()} runs; effects are "
            f"least-squares contrasts with seeds as blocks ({SUMS_OF_SQUARES} sums of squares: "
            "each effect adjusted for every other term, cells weighted equally)"
        )
    if fit.df_resid < 1:
        warnings.append(
            "no residual degrees of freedom (one seed per cell?): nothing can be tested; run "
            "at least two seeds"
        )
    elif fit.sigma == 0:
        warnings.append(
            "the runs have no spread around the model (identical seeds? the command may ignore "
            "its seed): no verdict can come from zero noise"
        )
    return warnings


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
