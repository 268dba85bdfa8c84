"""The sweep trend test: agrees with statsmodels' OLS with seed dummies, finds a known linear
trend, and keeps its false-positive rate at alpha under a null with strong seed effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.formula.api as smf

from analysis import sweep_trends
from analysis.trend import fixed_effects_slope, page_two_sided, slope_fit

XS = [0.0, 0.2, 0.4, 0.6, 0.8]


def simulate(rng: np.random.Generator, sims: int, seeds: int, slope: float) -> np.ndarray:
    """(sims, seeds, points): 3 + seed effect (sd 1) + slope · x + run noise (sd 0.05)."""
    seed_effect = rng.normal(0.0, 1.0, (sims, seeds, 1))
    noise = rng.normal(0.0, 0.05, (sims, seeds, len(XS)))
    return 3.0 + seed_effect + slope * np.array(XS) + noise


def test_slope_equals_statsmodels_ols_with_seed_dummies() -> None:
    rng = np.random.default_rng(0)
    y = simulate(rng, 1, 4, 0.3)[0]
    y[1, 2] = np.nan  # unbalanced: a missing run
    y[3, 0] = np.nan
    rows = [
        (seed, x, y[seed, j])
        for seed in range(4)
        for j, x in enumerate(XS)
        if np.isfinite(y[seed, j])
    ]
    frame = pd.DataFrame(rows, columns=["seed", "x", "y"])
    for formula, seed_effects in (("y ~ x + C(seed)", True), ("y ~ x", False)):
        model = smf.ols(formula, frame).fit()
        fit = slope_fit(XS, y, seed_effects=seed_effects)
        assert fit.slope == pytest.approx(model.params["x"], rel=1e-10)
        assert fit.std_error == pytest.approx(model.bse["x"], rel=1e-10)
        assert fit.p_value == pytest.approx(model.pvalues["x"], rel=1e-8)
        assert fit.df == model.df_resid
        low, high = model.conf_int().loc["x"]
        assert (fit.ci_low, fit.ci_high) == pytest.approx((low, high), rel=1e-10)


def test_a_known_linear_trend_is_found() -> None:
    rng = np.random.default_rng(1)
    y = simulate(rng, 1, 3, -0.5)[0]
    fit = slope_fit(XS, y)
    assert fit.p_value < 1e-6 and fit.ci_low < -0.5 < fit.ci_high
    assert fit.df == 15 - 3 - 1
    assert page_two_sided(y)[1] < 0.05


def test_null_false_positive_rate_with_strong_seed_effects() -> None:
    """Seed sd 1 is 20x the run noise; the slope test stays at alpha (it is exact)."""
    rng = np.random.default_rng(2)
    sims, alpha = 4000, 0.05
    mc_error = 3 * math.sqrt(alpha * (1 - alpha) / sims)
    for seeds in (3, 5):
        y = simulate(rng, sims, seeds, 0.0)
        rate = float(np.mean(fixed_effects_slope(XS, y)["p_value"] <= alpha))
        assert rate <= alpha + mc_error, (seeds, rate)
        assert rate >= alpha - mc_error, (seeds, rate)  # exact, so not conservative either
    # Page's test on the same kind of data (fewer simulations: it is not vectorised).
    y = simulate(rng, 400, 3, 0.0)
    page = np.array([page_two_sided(one)[1] for one in y])
    assert float(np.mean(page <= alpha)) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / 400)


def test_power_against_a_small_slope() -> None:
    """A slope of 0.2 per unit (0.16 over the sweep: 3 run-noise sds, 0.16 seed sds), 3 seeds.

    Without the seed intercepts the seed spread swamps it: valid, but nearly powerless."""
    rng = np.random.default_rng(3)
    y = simulate(rng, 2000, 3, 0.2)
    with_seeds = float(np.mean(fixed_effects_slope(XS, y)["p_value"] <= 0.05))
    without = float(np.mean(fixed_effects_slope(XS, y, seed_effects=False)["p_value"] <= 0.05))
    assert with_seeds > 0.9 and without < 0.1


def sweep_table(values: np.ndarray) -> tuple[pl.DataFrame, dict[str, dict[str, float]]]:
    points = {f"p-{x:g}": {"model.p": x} for x in XS}
    rows = [
        {"variant": f"p-{x:g}", "seed": seed, "val_loss": float(values[seed, j])}
        for seed in range(values.shape[0])
        for j, x in enumerate(XS)
    ]
    return pl.DataFrame(rows), points


def test_sweep_trends_from_a_table() -> None:
    rng = np.random.default_rng(4)
    table, points = sweep_table(simulate(rng, 1, 3, -0.5)[0])
    table = pl.concat([table, pl.DataFrame({"variant": ["hand"], "seed": [0], "val_loss": [9.0]})])
    (trend,) = sweep_trends(table, metric="val_loss", points=points)
    assert trend.parameter == "model.p" and trend.verdict == "decreasing"
    assert [p.variant for p in trend.points] == list(points)  # the hand-written variant is out
    assert all(p.n == 3 and p.ci_low < p.mean < p.ci_high for p in trend.points)
    assert trend.fit.seed_effects and trend.to_dict()["verdict"] == "decreasing"


def test_grid_sweep_gives_one_series_per_other_value_and_holm() -> None:
    rng = np.random.default_rng(5)
    rows, points = [], {}
    for dim in (2, 3):
        for x in XS:
            name = f"p-{x:g}_dim-{dim}"
            points[name] = {"model.p": x, "model.dim": dim, "model.kind": "a"}
            for seed in range(3):
                value = 3 + 0.3 * seed + (0.5 * x if dim == 2 else 0.0) + rng.normal(0, 0.05)
                rows.append({"variant": name, "seed": seed, "val_loss": value})
    trends = sweep_trends(pl.DataFrame(rows), metric="val_loss", points=points)
    labels = {t.label(): t for t in trends}
    # model.p per dim, and model.dim (2 values) per p; the string key is not a trend.
    assert len(trends) == 2 + len(XS)
    assert labels["model.p (dim=2)"].verdict == "increasing"
    assert labels["model.p (dim=3)"].verdict == "no trend detected"
    assert all(t.p_adjusted >= t.fit.p_value for t in trends)


def test_no_shared_seeds_falls_back_to_one_intercept() -> None:
    rows = [
        {"variant": f"p-{x:g}", "seed": 10 * j + s, "val_loss": 3 + x + 0.01 * s}
        for j, x in enumerate(XS)
        for s in range(2)
    ]
    (trend,) = sweep_trends(
        pl.DataFrame(rows), metric="val_loss", points={f"p-{x:g}": {"p": x} for x in XS}
    )
    assert not trend.fit.seed_effects and trend.verdict == "increasing"
    assert math.isnan(trend.page_p)
