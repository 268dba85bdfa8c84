"""Trend of a metric against a swept numeric parameter, paired by seed.

A sweep (``[sweep]``, e.g. nanohead proportion 0.0 … 0.8) runs every point with the same seeds,
and a seed shifts the metric of every point alike (same init, same data order) — and may also
change how strongly the metric responds to the parameter. The model behind the verdict is one
line per seed, with a random slope::

    y[seed, point] = a[seed] + b[seed] · x[point] + e[seed, point],   b[seed] ~ (slope, tau²)

and the question is the *average* slope: does the metric rise or fall with the parameter across
seeds, beyond the seed-to-seed variation of the slope? The test is the **per-seed slopes
t-test** (the two-stage "summary statistics" approach of mixed models): each seed's own
least-squares slope ``b̂[seed]``, then a one-sample t-test of their mean against 0 with
``seeds − 1`` degrees of freedom. Each ``b̂[seed]`` carries both the seed's true slope and its
run noise, so their spread measures ``tau² + sigma² / Sxx`` — the whole variance of the mean —
and when every seed sees the same points the t statistic is exact whatever tau is (it is the
F-test of x against the seed × x interaction; R's ``lmer(y ~ x + (x | seed))`` with
lmerTest's Satterthwaite df gives the same t and df when its fit is not singular, see
tests/analysis/test_trend.py).
With missing runs the seeds' slopes are weighted equally: still unbiased, the t approximate.

The common-slope fit (seed intercepts only, ``y = a[seed] + slope · x + e``: seed fixed
effects, :func:`fixed_effects_slope`) is kept beside it: it is exact for "the metric does not
depend on the parameter in any seed", but when the slope varies between seeds it judges the
average slope against the within-seed noise alone and claims trends that are not there (with a
seed-slope sd of 0.2 under a null average slope, 3 seeds, noise 0.05: in 28 % of studies; the
per-seed test: 5 %, docs/analysis.md "Trend"). Its F-test of the seed × x interaction is
reported as ``heterogeneity_p``: a small value says the seeds disagree about the slope.

Page's L test (seeds as blocks, points ordered by the parameter) is the nonparametric check: it
asks whether the per-seed ranks rise or fall with the parameter, without assuming linearity or
normality. Two-sided: twice the smaller one-sided p.

Pure functions over arrays and polars tables; nothing draws random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import special

from analysis.lost_runs import LOST_STATUSES, worst_case_stands, worst_value
from analysis.stats import holm, mean_ci, t_quantile, t_two_sided_p
from analysis.verdict import Direction, improvement


@dataclass(frozen=True, kw_only=True)
class SlopeFit:
    """A slope of y on x with its t interval: the mean of the seeds' own slopes, or one
    least-squares slope with or without seed intercepts.

    Attributes:
        slope: change of the metric per unit of the parameter.
        std_error: its standard error.
        ci_low, ci_high: the ``1 − alpha`` t interval of the slope.
        t: slope / std_error.
        df: degrees of freedom (seeds − 1 for per-seed slopes; n − seeds − 1 with seed
            intercepts, n − 2 without).
        p_value: two-sided p of slope = 0.
        n: runs used; n_seeds: seeds among them.
        seed_effects: whether each seed had its own intercept (and, with per-seed slopes, its
            own slope).
        method: "per-seed slopes", "common slope, seed intercepts" or "one intercept".
    """

    slope: float
    std_error: float
    ci_low: float
    ci_high: float
    t: float
    df: int
    p_value: float
    n: int
    n_seeds: int
    seed_effects: bool
    method: str = ""


PER_SEED = "per-seed slopes"
COMMON_SLOPE = "common slope, seed intercepts"
ONE_INTERCEPT = "one intercept"


def fixed_effects_slope(
    x: np.ndarray | Sequence[float],
    y: np.ndarray,
    *,
    seed_effects: bool = True,
) -> dict[str, np.ndarray]:
    """Vectorised slope of y on x with one intercept per seed (or a single intercept).

    Args:
        x: (P,) the parameter value of each point.
        y: (..., S, P) the metric, seeds by points; NaN marks a missing run.
        seed_effects: fit one intercept per seed (True) or one for all runs (False).

    Returns:
        ``{"slope", "std_error", "t", "df", "p_value", "n", "n_seeds"}``, arrays over the
        leading axes of ``y``. Where the residual df is < 1 or x does not vary, slope and p are
        NaN.
    """
    y = np.asarray(y, dtype=float)
    x_full = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    valid = np.isfinite(y)
    count_axes = (-2, -1)
    mean_axes = -1 if seed_effects else count_axes
    with np.errstate(invalid="ignore", divide="ignore"):
        counts = valid.sum(axis=mean_axes, keepdims=True)
        x_mean = np.where(valid, x_full, 0.0).sum(axis=mean_axes, keepdims=True) / counts
        y_mean = np.where(valid, y, 0.0).sum(axis=mean_axes, keepdims=True) / counts
        x_dev = np.where(valid, x_full - x_mean, 0.0)
        y_dev = np.where(valid, y - y_mean, 0.0)
        sxx = (x_dev * x_dev).sum(axis=count_axes)
        sxy = (x_dev * y_dev).sum(axis=count_axes)
        slope = sxy / sxx
        residual = np.where(valid, y_dev - slope[..., None, None] * x_dev, 0.0)
        rss = (residual * residual).sum(axis=count_axes)
        n = valid.sum(axis=count_axes)
        n_seeds = valid.any(axis=-1).sum(axis=-1)
        intercepts = n_seeds if seed_effects else np.minimum(n, 1)
        df = n - intercepts - 1
        std_error = np.sqrt(rss / np.where(df > 0, df, np.nan) / sxx)
        t = slope / std_error
        p_value = t_two_sided_p(t, np.where(df > 0, df, np.nan))
    # An exact fit (rss 0) with a nonzero slope is certain; with a zero slope, nothing is seen.
    exact = (df > 0) & (rss == 0) & (sxx > 0)
    p_value = np.where(exact, np.where(slope != 0, 0.0, 1.0), p_value)
    bad = ~(sxx > 0) | (df < 1)
    slope = np.where(bad, np.nan, slope)
    p_value = np.where(bad, np.nan, p_value)
    return {
        "slope": slope,
        "std_error": np.where(bad, np.nan, std_error),
        "t": np.where(bad, np.nan, t),
        "df": df,
        "p_value": p_value,
        "n": n,
        "n_seeds": n_seeds,
    }


def slope_fit(
    x: Sequence[float],
    y: np.ndarray,
    *,
    alpha: float = 0.05,
    seed_effects: bool = True,
) -> SlopeFit:
    """:func:`fixed_effects_slope` for one (S, P) table, with its ``1 − alpha`` CI."""
    out = fixed_effects_slope(x, np.asarray(y, dtype=float), seed_effects=seed_effects)
    return _fit(out, alpha, seed_effects, COMMON_SLOPE if seed_effects else ONE_INTERCEPT)


def per_seed_slopes(x: np.ndarray | Sequence[float], y: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised per-seed slopes test: each seed's own slope, then a t-test of their mean.

    A seed contributes a slope when it has runs at two or more distinct parameter values. The
    mean of those slopes is tested against 0 with a one-sample t-test (``seeds − 1`` df): the
    spread of the seeds' slopes holds both the seed-to-seed variation of the slope and the run
    noise, so a slope that varies between seeds cannot pass for a trend.

    Args:
        x: (P,) the parameter value of each point.
        y: (..., S, P) the metric, seeds by points; NaN marks a missing run.

    Returns:
        ``{"slope", "std_error", "t", "df", "p_value", "n", "n_seeds", "seed_slopes",
        "heterogeneity_p"}`` over the leading axes of ``y``; ``seed_slopes`` is (..., S), NaN
        for a seed without a slope. ``n`` and ``n_seeds`` count the runs and seeds that have a
        slope. ``heterogeneity_p`` is the F-test of "every seed has the same slope" (the
        seed × x interaction against the residual of one line per seed); NaN when no seed has
        three or more points. Slope and p are NaN with fewer than 2 seeds.
    """
    y = np.asarray(y, dtype=float)
    x_full = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    valid = np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        counts = valid.sum(axis=-1, keepdims=True)
        x_mean = np.where(valid, x_full, 0.0).sum(axis=-1, keepdims=True) / counts
        y_mean = np.where(valid, y, 0.0).sum(axis=-1, keepdims=True) / counts
        x_dev = np.where(valid, x_full - x_mean, 0.0)
        y_dev = np.where(valid, y - y_mean, 0.0)
        sxx = (x_dev * x_dev).sum(axis=-1)  # (..., S)
        has_slope = sxx > 0
        seed_slopes = np.where(has_slope, (x_dev * y_dev).sum(axis=-1) / sxx, np.nan)
        k = has_slope.sum(axis=-1)
        slopes_or_zero = np.where(has_slope, seed_slopes, 0.0)
        slope = slopes_or_zero.sum(axis=-1) / k
        spread = np.where(has_slope, seed_slopes - slope[..., None], 0.0)
        sd = np.sqrt((spread * spread).sum(axis=-1) / (k - 1))
        std_error = sd / np.sqrt(k)
        df = (k - 1).astype(float)
        df_or_nan = np.where(df > 0, df, np.nan)
        t = slope / std_error
        p_value = t_two_sided_p(t, df_or_nan)
        # Interaction: the seeds' slopes around their Sxx-weighted mean (the common slope),
        # against the residual of one line per seed.
        used = has_slope[..., None] & valid
        sxx_used = np.where(has_slope, sxx, 0.0)
        common = (sxx_used * slopes_or_zero).sum(axis=-1) / sxx_used.sum(axis=-1)
        interaction = (sxx_used * (slopes_or_zero - common[..., None]) ** 2).sum(axis=-1)
        residual = np.where(used, y_dev - slopes_or_zero[..., None] * x_dev, 0.0)
        rss = (residual * residual).sum(axis=(-2, -1))
        n = used.sum(axis=(-2, -1))
        residual_df = n - 2 * k
        f_ratio = (interaction / (k - 1)) / (rss / residual_df)
        heterogeneity_p = special.fdtrc(
            np.where(k >= 2, k - 1, np.nan), np.where(residual_df > 0, residual_df, np.nan), f_ratio
        )
    # Identical slopes in every seed: no spread, so the mean is certain (as in the paired test).
    exact = (df > 0) & (sd == 0)
    p_value = np.where(exact, np.where(slope != 0, 0.0, 1.0), p_value)
    bad = df < 1
    return {
        "slope": np.where(bad, np.nan, slope),
        "std_error": np.where(bad, np.nan, std_error),
        "t": np.where(bad | exact, np.nan, t),
        "df": df,
        "p_value": np.where(bad, np.nan, p_value),
        "n": n,
        "n_seeds": k,
        "seed_slopes": seed_slopes,
        "heterogeneity_p": np.where((k >= 2) & (residual_df > 0), heterogeneity_p, np.nan),
    }


def per_seed_slope_fit(
    x: Sequence[float], y: np.ndarray, *, alpha: float = 0.05
) -> tuple[SlopeFit, np.ndarray, float]:
    """:func:`per_seed_slopes` for one (S, P) table: the fit with its ``1 − alpha`` CI, the
    seeds' slopes (S,) and the heterogeneity p."""
    out = per_seed_slopes(x, np.asarray(y, dtype=float))
    fit = _fit(out, alpha, True, PER_SEED)
    return fit, np.asarray(out["seed_slopes"], dtype=float), float(out["heterogeneity_p"])


def _fit(out: dict[str, np.ndarray], alpha: float, seed_effects: bool, method: str) -> SlopeFit:
    df = int(out["df"])
    slope = float(out["slope"])
    std_error = float(out["std_error"])
    half = float(t_quantile(1 - alpha / 2, df)) * std_error if df > 0 else math.nan
    return SlopeFit(
        slope=slope,
        std_error=std_error,
        ci_low=slope - half,
        ci_high=slope + half,
        t=float(out["t"]),
        df=df,
        p_value=float(out["p_value"]),
        n=int(out["n"]),
        n_seeds=int(out["n_seeds"]),
        seed_effects=seed_effects,
        method=method,
    )


def page_two_sided(y: np.ndarray) -> tuple[float, float]:
    """Page's L test on (S, P) blocks × ordered points, two-sided; (L, p) or (nan, nan).

    Uses the seeds with a value at every point; needs at least 2 such seeds and 3 points.
    """
    y = np.asarray(y, dtype=float)
    complete = y[np.isfinite(y).all(axis=1)]
    if complete.shape[0] < 2 or complete.shape[1] < 3:
        return math.nan, math.nan
    from scipy import stats  # here, not at the top: its import alone costs ~1 s of every CLI call

    rising = stats.page_trend_test(complete)
    falling = stats.page_trend_test(complete[:, ::-1])
    p_value = min(1.0, 2.0 * min(float(rising.pvalue), float(falling.pvalue)))
    return float(rising.statistic), p_value


@dataclass(frozen=True, kw_only=True)
class TrendPoint:
    """One sweep point: its parameter value and the metric's mean with a t interval across seeds."""

    variant: str
    x: float
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, kw_only=True)
class Trend:
    """The trend of the metric along one swept parameter (one series of a sweep).

    Attributes:
        parameter: the swept dotted key.
        series: the other swept keys held fixed along this series ({} for a one-key sweep).
        points: the sweep points in parameter order.
        fit: the test behind the verdict (``fit.method``): the mean of the per-seed slopes
            when two or more seeds have runs at two or more points; one intercept for all runs
            when no seed is shared between points (each run its own seed: nothing to pair);
            NaN (no verdict) when a single seed is shared.
        seed_values: per-seed values, (S, P) with NaN for a missing run.
        seeds: the seed numbers, in the order of ``seed_values``' rows.
        page_statistic, page_p: Page's L test (two-sided), NaN when not computable.
        p_adjusted: the slope's p after Holm over every trend in the report.
        verdict: "increasing" / "decreasing" (adjusted p ≤ alpha) or "no trend detected".
        seed_slopes: each seed's own slope (NaN for a seed at fewer than two points).
        heterogeneity_p: F-test of "every seed has the same slope"; NaN when not computable.
        common_slope: the least-squares slope with seed intercepts, assuming every seed has
            the same slope (None without shared seeds); shown, never the verdict's basis.
        survivors_only: runs of this series were lost (diverged or failed): the points, the
            slope and its CI come from the surviving runs only.
        withheld: ``lost_runs`` when the survivors' trend does not stand once each lost run
            at the points the trend favours counts as the worst value of the table (the
            worst-case rule); the verdict is then "no trend detected".
    """

    parameter: str
    series: Mapping[str, Any]
    points: tuple[TrendPoint, ...]
    fit: SlopeFit
    seed_values: np.ndarray
    seeds: tuple[int, ...]
    page_statistic: float
    page_p: float
    p_adjusted: float
    verdict: str
    seed_slopes: tuple[float, ...] = ()
    heterogeneity_p: float = math.nan
    common_slope: SlopeFit | None = None
    survivors_only: bool = False
    withheld: str | None = None

    def label(self) -> str:
        mark = " †" if self.survivors_only else ""
        if not self.series:
            return self.parameter + mark
        fixed = ", ".join(f"{key.split('.')[-1]}={value}" for key, value in self.series.items())
        return f"{self.parameter} ({fixed}){mark}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "series": dict(self.series),
            "points": [{k: _json(v) for k, v in point.__dict__.items()} for point in self.points],
            "slope": _json(self.fit.slope),
            "ci_low": _json(self.fit.ci_low),
            "ci_high": _json(self.fit.ci_high),
            "std_error": _json(self.fit.std_error),
            "df": self.fit.df,
            "p_value": _json(self.fit.p_value),
            "p_adjusted": _json(self.p_adjusted),
            "seed_effects": self.fit.seed_effects,
            "method": self.fit.method,
            "n_seeds": self.fit.n_seeds,
            "seed_slopes": [_json(float(v)) for v in self.seed_slopes],
            "heterogeneity_p": _json(self.heterogeneity_p),
            "common_slope": None
            if self.common_slope is None
            else {
                "slope": _json(self.common_slope.slope),
                "std_error": _json(self.common_slope.std_error),
                "df": self.common_slope.df,
                "p_value": _json(self.common_slope.p_value),
            },
            "page_statistic": _json(self.page_statistic),
            "page_p": _json(self.page_p),
            "verdict": self.verdict,
            "survivors_only": self.survivors_only,
            "withheld": self.withheld,
        }


def sweep_trends(
    table: pl.DataFrame,
    *,
    metric: str,
    points: Mapping[str, Mapping[str, Any]],
    alpha: float = 0.05,
    direction: Direction = Direction.MINIMIZE,
    lost: pl.DataFrame | None = None,
) -> list[Trend]:
    """The trend of ``metric`` along every numeric swept parameter.

    A sweep over one key gives one trend; a grid over several gives, for each numeric key, one
    series per combination of the other keys. Each trend is the per-seed slopes t-test (module
    docstring): the average slope against the seed-to-seed variation of the slopes. The slopes'
    p-values form one Holm family, so the chance that any "increasing"/"decreasing" verdict of
    the report is false is at most alpha.

    Args:
        table: ``variant``, ``seed`` and ``metric`` columns, one row per run.
        metric: the column.
        points: variant -> {dotted key: value} of every sweep point (``study.json``'s
            ``"sweep"``); variants not listed (written out by hand) are left out.
        alpha: family-wise level of the verdicts; CIs are ``1 − alpha``.
        direction: whether lower or higher is better (which value is the worst, for lost runs).
        lost: optional table of every planned run (``variant``, ``seed``, ``status``): a trend
            stands only if it survives the worst-case rule for lost runs
            (:func:`analysis.lost_runs.worst_case_stands`): the lost runs at the points the
            trend calls better (the low end of an "increasing" loss) count as the worst value
            of the table, the Holm family re-tested; a series that lost runs is marked
            ``survivors_only``.

    Returns:
        One :class:`Trend` per numeric parameter and series with at least 2 distinct values;
        [] when there is none.
    """
    frame = table.select(
        pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), pl.col(metric).cast(float)
    ).filter(pl.col(metric).is_finite() & pl.col("variant").is_in(list(points)))
    if frame.height == 0:
        return []
    keys = list(next(iter(points.values())))
    raw: list[dict[str, Any]] = []
    for key in keys:
        if not all(_is_number(p.get(key)) for p in points.values()):
            continue
        values = {name: float(p[key]) for name, p in points.items()}
        # Keys that never change (a one-value list) name no series.
        others = [
            k for k in keys if k != key and len({_hashable(p.get(k)) for p in points.values()}) > 1
        ]
        groups: dict[tuple[Any, ...], list[str]] = {}
        for name, point in points.items():
            groups.setdefault(tuple(_hashable(point.get(k)) for k in others), []).append(name)
        present = set(frame["variant"].to_list())
        for group_key, group in groups.items():
            names = sorted((n for n in group if n in present), key=lambda n: values[n])
            if len({values[n] for n in names}) < 2:
                continue
            raw.append(
                _trend(frame, metric, key, dict(zip(others, group_key, strict=True)), names,
                       [values[n] for n in names], alpha)
            )  # fmt: skip
    family = np.array([r["fit"].p_value for r in raw], dtype=float)
    adjusted = holm(family)
    worst = worst_value(frame[metric].to_numpy(), direction)
    trends = []
    for index, (item, p_adj) in enumerate(zip(raw, adjusted, strict=True)):
        fit: SlopeFit = item["fit"]
        significant = math.isfinite(p_adj) and p_adj <= alpha
        survivors_only, withheld = False, None
        if lost is not None:
            survivors_only, stands = _lost_run_rule(
                item, lost, family, index, significant=significant, alpha=alpha,
                direction=direction, worst=worst,
            )  # fmt: skip
            if not stands:
                significant, withheld = False, "lost_runs"
        verdict = (
            ("increasing" if fit.slope > 0 else "decreasing")
            if significant
            else "no trend detected"
        )
        trends.append(
            Trend(**item, p_adjusted=float(p_adj), verdict=verdict,
                  survivors_only=survivors_only, withheld=withheld)
        )  # fmt: skip
    return trends


def _lost_run_rule(
    item: dict[str, Any],
    lost: pl.DataFrame,
    family: np.ndarray,
    index: int,
    *,
    significant: bool,
    alpha: float,
    direction: Direction,
    worst: float,
) -> tuple[bool, bool]:
    """``(survivors_only, stands)`` for one trend: whether its series lost runs, and whether its
    verdict survives the worst-case rule (:func:`analysis.lost_runs.worst_case_stands`).

    A trend is a claim that the points at one end are better than those at the other: the
    winners are the points on the better side of the mean parameter value (below it for an
    increasing loss, above it for an increasing accuracy). Their lost runs count as the
    table's worst value on their own seeds, the slope is refitted as the verdict's own test
    (per-seed slopes, or one intercept without shared seeds), and the claim stands if the
    Holm family with that p-value still calls the same direction.
    """
    names = [point.variant for point in item["points"]]
    xs = np.array([point.x for point in item["points"]])
    statuses = lost.select(
        pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), pl.col("status")
    ).filter(pl.col("variant").is_in(names) & pl.col("status").is_in(LOST_STATUSES))
    if statuses.height == 0:
        return False, True
    if not significant:
        return True, True
    seeds = list(item["seeds"])
    extra = sorted(set(statuses["seed"].to_list()) - set(seeds))
    values = np.vstack([item["seed_values"], np.full((len(extra), len(names)), np.nan)]).T
    seeds += extra
    is_lost = np.zeros(values.shape, dtype=bool)
    for variant, seed in statuses.select("variant", "seed").iter_rows():
        is_lost[names.index(variant), seeds.index(seed)] = True
    slope = float(item["fit"].slope)
    higher_is_better = improvement(np.sign(slope), direction) > 0
    better_end = xs > xs.mean() if higher_is_better else xs < xs.mean()
    winners = [int(j) for j in np.flatnonzero(better_end)]
    losers = [int(j) for j in np.flatnonzero(~better_end)]

    def holds(imputed: np.ndarray) -> bool:
        by_seed = imputed.T  # (S, P), as the fits take it
        shared = int((np.isfinite(by_seed).sum(axis=1) >= 2).sum())
        if shared == 0:
            fit = slope_fit(xs.tolist(), by_seed, alpha=alpha, seed_effects=False)
        else:
            fit, _, _ = per_seed_slope_fit(xs.tolist(), by_seed, alpha=alpha)
        again = family.copy()
        again[index] = fit.p_value
        p_adj = float(holm(again)[index])
        return math.isfinite(p_adj) and p_adj <= alpha and np.sign(fit.slope) == np.sign(slope)

    stands = worst_case_stands(
        values, is_lost, winner=winners, loser=losers, worst=worst, holds=holds
    )
    return True, stands


def _trend(
    frame: pl.DataFrame,
    metric: str,
    key: str,
    series: dict[str, Any],
    names: list[str],
    xs: list[float],
    alpha: float,
) -> dict[str, Any]:
    rows = frame.filter(pl.col("variant").is_in(names))
    seeds = sorted(set(rows["seed"].to_list()))
    seed_row = {seed: i for i, seed in enumerate(seeds)}
    column = {name: j for j, name in enumerate(names)}
    values = np.full((len(seeds), len(names)), np.nan)
    for variant, seed, value in rows.select("variant", "seed", metric).iter_rows():
        values[seed_row[seed], column[variant]] = value
    # A seed's own slope needs runs at two or more points. With no seed shared between points
    # every run has its own seed, so a single intercept is valid (a seed's slope is then just
    # part of that run's noise); with one shared seed alone there is no spread of slopes to
    # judge the average against, and no verdict.
    shared = int((np.isfinite(values).sum(axis=1) >= 2).sum())
    fit, seed_slopes, heterogeneity_p = per_seed_slope_fit(xs, values, alpha=alpha)
    if shared == 0:
        fit = slope_fit(xs, values, alpha=alpha, seed_effects=False)
    common = slope_fit(xs, values, alpha=alpha) if shared else None
    points = []
    for j, (name, x) in enumerate(zip(names, xs, strict=True)):
        column_values = values[:, j][np.isfinite(values[:, j])]
        summary = mean_ci(column_values, alpha=alpha)
        points.append(
            TrendPoint(
                variant=name, x=x, n=int(summary["n"]), mean=float(summary["mean"]),
                sd=float(summary["sd"]), ci_low=float(summary["ci_low"]),
                ci_high=float(summary["ci_high"]),
            )
        )  # fmt: skip
    page_statistic, page_p = page_two_sided(values)
    return {
        "parameter": key,
        "series": series,
        "points": tuple(points),
        "fit": fit,
        "seed_values": values,
        "seeds": tuple(seeds),
        "page_statistic": page_statistic,
        "page_p": page_p,
        "seed_slopes": tuple(float(v) for v in seed_slopes),
        "heterogeneity_p": heterogeneity_p,
        "common_slope": common,
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
