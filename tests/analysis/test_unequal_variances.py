"""analysis.unequal_variances against R (sandwich) and by simulation; the factorial effects that
use it keep their error rates when one cell is noisier (issue 32, item 2).

The R script is the one pasted in tests/analysis/test_factorial.py (``cell_fit`` and
``contrast``: unbiased cell variances, the sandwich with them, Satterthwaite df); on the 2 x 2
table there, with the run of cell (A2, B2) on seed 3 lost (``dd <- d[1:15, ];
print(cell_fit(lm(y ~ a * b + seed, data = dd), dd$cell)$s2)``), it gives the cell variances
0.000796469166666694, 0.003350130208333332, -0.000900838541666671, 0.008842286944444494
(cells 00, 01, 10, 11; unbiased, so one can come out negative) and for the coefficients a, b,
a:b of ``lm(y ~ a * b + seed)``:

    a    se 0.0307771121568619  df 3.18779888178617
    a:b  se 0.0615542243137238  df 3.18779888178617

``sandwich::vcovHC(fit, type = "HC3")`` and ``"HC2"`` on the 16 runs are pasted there too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import factorial_values, stats
from analysis.unequal_variances import (
    contrasts_with_group_variances,
    fit_group_variances,
    hc_covariance,
    seed_blocked_variant_contrast,
)

A2 = np.array([0, 0, 1, 1] * 4)
B2 = np.array([0, 1, 0, 1] * 4)
SEED2 = np.repeat(np.arange(4), 4)
Y2 = np.array([2.5205, 2.4656, 2.6496, 2.8231, 2.5668, 2.5327, 2.6018, 2.6546,
               3.2024, 3.1994, 3.2862, 3.3913, 2.8212, 2.7289, 2.9072, 3.0167])  # fmt: skip

HC3 = [
    [0.00101549530864, 0.00030314000000, 0.00137847703704],
    [0.00030314000000, 0.00101549530864, 0.00015381037037],
    [0.00137847703704, 0.00015381037037, 0.00406198123457],
]
HC2 = [
    [0.000571216111111, 1.70516250000e-04, 7.75393333333e-04],
    [0.000170516250000, 5.71216111111e-04, 8.65183333333e-05],
    [0.000775393333333, 8.65183333333e-05, 2.28486444444e-03],
]


def r_design(rows: int = 16) -> np.ndarray:
    """R's model.matrix(y ~ a * b + seed): (Intercept), a, b, seed1..3, a:b."""
    a, b = A2[:rows] - 0.5, B2[:rows] - 0.5
    seeds = (SEED2[:rows, None] == np.arange(1, 4)[None, :]).astype(float)
    return np.column_stack([np.ones(rows), a, b, seeds, a * b])


COEFFICIENTS = [1, 2, 6]  # a, b, a:b


@pytest.mark.parametrize(("kind", "reference"), [("HC3", HC3), ("HC2", HC2)])
def test_hc_covariance_matches_r_sandwich(kind: str, reference: list[list[float]]) -> None:
    x = r_design()
    residuals = Y2 - x @ np.linalg.lstsq(x, Y2, rcond=None)[0]
    covariance = hc_covariance(x, residuals, kind)  # type: ignore[arg-type]
    block = covariance[np.ix_(COEFFICIENTS, COEFFICIENTS)]
    assert block == pytest.approx(np.array(reference), rel=1e-9)


def test_cell_variances_and_their_sandwich_match_r() -> None:
    x = r_design(15)
    cells = (2 * A2 + B2)[:15]
    fit = fit_group_variances(x, Y2[:15], cells)
    assert fit.variances == pytest.approx(
        [0.000796469166666694, 0.003350130208333332, -0.000900838541666671, 0.008842286944444494],
        rel=1e-9,
    )
    rows = np.eye(x.shape[1])[COEFFICIENTS]
    tests = contrasts_with_group_variances(fit, rows)
    assert tests.std_error == pytest.approx(
        [0.0307771121568619, 0.0307771121568619, 0.0615542243137238], rel=1e-10
    )
    assert tests.df == pytest.approx([3.18779888178617] * 3, rel=1e-10)
    assert tests.estimable.all()


def test_two_variants_on_the_same_seeds_give_the_paired_t_test_exactly() -> None:
    # The variance of the difference is then a scaled chi-square on n - 1 df whatever the two
    # variances are, and the Satterthwaite df finds it.
    rng = np.random.default_rng(2)
    values = (
        3.0 + rng.normal(0.0, 1.0, (1, 7)) + np.array([[0.01], [0.08]]) * rng.normal(size=(2, 7))
    )
    variant, seed = np.repeat(np.arange(2), 7), np.tile(np.arange(7), 2)
    x = np.column_stack([variant == 0, variant == 1, seed[:, None] == np.arange(7)]).astype(float)
    fit = fit_group_variances(x, values.ravel(), variant)
    row = np.zeros(x.shape[1])
    row[1], row[0] = 1.0, -1.0
    test = contrasts_with_group_variances(fit, row)
    paired = stats.paired_t(values[1], values[0])
    assert test.df[0] == pytest.approx(6.0, rel=1e-10)
    assert test.p_value[0] == pytest.approx(float(paired.p_value), rel=1e-10)
    assert test.ci_low[0] == pytest.approx(float(paired.ci_low), rel=1e-10)


def test_a_group_with_a_single_run_has_no_variance_of_its_own() -> None:
    x = r_design(13)  # cell (A1, B0) has runs on seeds 0-3, cell (A1, B1) on seeds 0-2 ...
    cells = (2 * A2 + B2)[:13]
    x, y, cells = x[cells != 3], Y2[:13][cells != 3], cells[cells != 3]
    x = np.vstack([x, r_design(4)[3]])  # ... and cell (A1, B1) now ran seed 0 only
    y, cells = np.append(y, Y2[3]), np.append(cells, 3)
    fit = fit_group_variances(x, y, cells)
    test = contrasts_with_group_variances(fit, np.eye(x.shape[1])[COEFFICIENTS])
    assert not test.estimable.any() and np.isnan(test.p_value).all()


# -- the factorial effects under a noisier cell ------------------------------------------------


def noisy_cell_study(rng: np.random.Generator, ratio: float = 5.0, seeds: int = 6) -> tuple:
    """A null 2 x 2 on ``seeds`` seeds; cell (1, 1) is ``ratio`` x noisier and lost seeds 0-1."""
    cells, seed, y = [], [], []
    seed_effect = rng.normal(0.0, 1.0, seeds)
    for s in range(seeds):
        for a in (0, 1):
            for b in (0, 1):
                if (a, b) == (1, 1) and s < 2:
                    continue
                sd = 0.05 * (ratio if (a, b) == (1, 1) else 1.0)
                cells.append((a, b))
                seed.append(s)
                y.append(3.0 + seed_effect[s] + rng.normal(0.0, sd))
    return np.array(cells), np.array(seed), np.array(y)


def test_a_noisier_cell_that_lost_runs_keeps_the_factorial_error_rates() -> None:
    # The pooled-variance model (before): false claims 0.13, interaction coverage 0.83 in this
    # design (600 studies, ad hoc); the cell variances: 0.047 and 0.94.
    rng = np.random.default_rng(32)
    studies, claims, covered = 300, 0, 0
    for _ in range(studies):
        cells, seed, y = noisy_cell_study(rng)
        result = factorial_values(cells, seed, y, factors={"A": ["0", "1"], "B": ["0", "1"]})
        claims += any(e.verdict not in ("indistinguishable", "equivalent") for e in result.effects)
        interaction = result.effect("A:B")
        covered += interaction.ci_low <= 0.0 <= interaction.ci_high
    slack = 2.33 * math.sqrt(0.05 * 0.95 / studies)
    assert claims / studies <= 0.05 + slack
    assert covered / studies >= 0.95 - slack


def test_a_cell_with_a_single_run_gives_no_effect_a_verdict() -> None:
    cells = np.array([(0, 0), (0, 1), (1, 0)] * 4 + [(1, 1)])
    seed = np.array([s for s in range(4) for _ in range(3)] + [0])
    y = 3.0 + seed * 0.1 + np.random.default_rng(0).normal(0.0, 0.01, seed.size)
    y[-1] += 1.0  # a huge difference on one run: still one run
    result = factorial_values(cells, seed, y, factors={"A": ["0", "1"], "B": ["0", "1"]})
    for effect in result.effects:
        assert effect.verdict == "undecided" and effect.withheld == "too_few_seeds"
        assert math.isnan(effect.p_value) and math.isnan(effect.p_adjusted)
    assert any("1 cell(s) have a single run (A=1, B=1)" in w for w in result.warnings)


def test_the_seed_blocked_fast_path_is_the_dense_fit() -> None:
    # analysis.blocked fits y ~ variant + seed with the seeds absorbed (linear cost); it must
    # give what the dense residual-maker computation gives, missing runs and all.
    rng = np.random.default_rng(8)
    for lost in range(6):
        values = (
            3.0
            + rng.normal(0.0, 1.0, (1, 9))
            + rng.uniform(0.01, 0.2, (3, 1)) * rng.normal(size=(3, 9))
        )
        for _ in range(lost):
            values[rng.integers(3), rng.integers(9)] = np.nan
        values = values[:, np.isfinite(values).sum(axis=0) >= 2]
        variant, seed = np.nonzero(np.isfinite(values))
        x = np.zeros((variant.size, 3 + values.shape[1]))
        x[np.arange(variant.size), variant] = 1.0
        x[np.arange(variant.size), 3 + seed] = 1.0
        dense_fit = fit_group_variances(x, values[variant, seed], variant)
        row = np.zeros(x.shape[1])
        row[2], row[0] = 1.0, -1.0
        dense = contrasts_with_group_variances(dense_fit, row)
        fast, variances = seed_blocked_variant_contrast(values, 2, 0)
        assert variances == pytest.approx(dense_fit.variances, rel=1e-9, abs=1e-15)
        for name in ("estimate", "std_error", "df", "p_value", "ci_low"):
            assert getattr(fast, name) == pytest.approx(getattr(dense, name), rel=1e-9)
