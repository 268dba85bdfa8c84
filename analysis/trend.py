"""Trend of a metric against a swept numeric parameter, paired by seed.

A sweep (``[sweep]``, e.g. nanohead proportion 0.0 … 0.8) runs every point with the same seeds,
and a seed shifts the metric of every point alike (same init, same data order). The test is
the slope of an ordinary least-squares fit of the metric on the parameter **with one intercept
per seed** (seed fixed effects)::

    y[seed, point] = a[seed] + slope · x[point] + e[seed, point]

The seed intercepts absorb the shared seed effect, just as the paired t-test of
:mod:`analysis.compare` does for two variants, so the slope is judged against the run-to-run
noise left inside a seed, not against the (often much larger) spread between seeds. Under the
null "the metric does not depend on the parameter" with errors exchangeable across the points of
a seed, the t statistic of the slope has an exact t distribution with ``n − seeds − 1`` degrees of
freedom, whatever the size of the seed effects. By Frisch–Waugh–Lovell the slope is the
regression of the within-seed deviations of y on those of x; that is what is computed here
(vectorised), and it equals statsmodels' ``OLS(y ~ x + C(seed))``
(``tests/analysis/test_trend.py``).

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

from analysis.stats import holm, mean_ci, t_quantile, t_two_sided_p


@dataclass(frozen=True, kw_only=True)
class SlopeFit:
    """The least-squares slope of y on x, with or without seed fixed effects.

    Attributes:
        slope: change of the metric per unit of the parameter.
        std_error: its standard error.
        ci_low, ci_high: the ``1 − alpha`` t interval of the slope.
        t: slope / std_error.
        df: residual degrees of freedom (n − seeds − 1 with seed effects, n − 2 without).
        p_value: two-sided p of slope = 0.
        n: runs used; n_seeds: seeds among them.
        seed_effects: whether one intercept per seed was fitted.
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
        fit: the slope with seed fixed effects (or without, see ``fit.seed_effects``).
        seeds: per-seed values, (S, P) with NaN for a missing run, and the seed numbers.
        page_statistic, page_p: Page's L test (two-sided), NaN when not computable.
        p_adjusted: the slope's p after Holm over every trend in the report.
        verdict: "increasing" / "decreasing" (adjusted p ≤ alpha) or "no trend detected".
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

    def label(self) -> str:
        if not self.series:
            return self.parameter
        fixed = ", ".join(f"{key.split('.')[-1]}={value}" for key, value in self.series.items())
        return f"{self.parameter} ({fixed})"

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
            "page_statistic": _json(self.page_statistic),
            "page_p": _json(self.page_p),
            "verdict": self.verdict,
        }


def sweep_trends(
    table: pl.DataFrame,
    *,
    metric: str,
    points: Mapping[str, Mapping[str, Any]],
    alpha: float = 0.05,
) -> list[Trend]:
    """The trend of ``metric`` along every numeric swept parameter.

    A sweep over one key gives one trend; a grid over several gives, for each numeric key, one
    series per combination of the other keys. The slopes' p-values form one Holm family, so the
    chance that any "increasing"/"decreasing" verdict of the report is false is at most alpha.

    Args:
        table: ``variant``, ``seed`` and ``metric`` columns, one row per run.
        metric: the column.
        points: variant -> {dotted key: value} of every sweep point (``study.json``'s
            ``"sweep"``); variants not listed (written out by hand) are left out.
        alpha: family-wise level of the verdicts; CIs are ``1 − alpha``.

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
    adjusted = holm(np.array([r["fit"].p_value for r in raw], dtype=float))
    trends = []
    for item, p_adj in zip(raw, adjusted, strict=True):
        fit: SlopeFit = item["fit"]
        significant = math.isfinite(p_adj) and p_adj <= alpha
        verdict = (
            ("increasing" if fit.slope > 0 else "decreasing")
            if significant
            else "no trend detected"
        )
        trends.append(Trend(**item, p_adjusted=float(p_adj), verdict=verdict))
    return trends


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
    # Seed intercepts need seeds observed at two or more points; without them (no shared
    # seeds) a single intercept is the only fit there is.
    shared = (np.isfinite(values).sum(axis=1) >= 2).sum() >= 1
    fit = slope_fit(xs, values, alpha=alpha, seed_effects=bool(shared))
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
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
