"""Group-sequential boundaries (analysis.group_sequential): published values, error by
simulation, decisions on hand-made data.

Reference values from R's rpact 3.3.4 (Debian r-cran-rpact), pasted with their code:

    library(rpact)
    getDesignGroupSequential(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "asOF")$criticalValues
    # 4.876885 3.357012 2.680280 2.289817 2.031032
    getDesignGroupSequential(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "asP")$criticalValues
    # 2.437977 2.426814 2.410194 2.396645 2.385985
    getDesignGroupSequential(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "asHSD",
                             gammaA = -2)$criticalValues
    # 2.890282 2.708488 2.514076 2.314999 2.109951
    getDesignGroupSequential(kMax = 4, alpha = 0.05, sided = 2, typeOfDesign = "asKD", gammaA = 2,
                             informationRates = c(0.2, 0.45, 0.7, 1))$criticalValues
    # 3.090232 2.621862 2.347619 2.075653
    getDesignGroupSequential(kMax = 5, alpha = 0.025, sided = 1, typeOfDesign = "asHSD",
                             gammaA = -2)$criticalValues
    # 2.890282 2.708488 2.514076 2.314999 2.109954
    getDesignGroupSequential(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "OF")$criticalValues
    # 4.561742 3.225639 2.633723 2.280871 2.040073   (C_B(5, 0.05) = 2.040, J&T Table 2.3)
    getDesignGroupSequential(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "P")$criticalValues
    # 2.413176 (every look; C_P(5, 0.05) = 2.413, J&T Table 2.1)
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.group_sequential import (
    EFFICACY_BETTER,
    FUTILITY,
    GroupSequentialDesign,
    classical_constant,
    decision_codes,
    design_boundaries,
    planned_looks,
    running_mean_sd,
    spent,
    t_boundaries,
    z_boundaries,
)
from analysis.group_sequential_report import group_sequential_compare, group_sequential_test


def bounds(fractions, alpha, function, parameter=None, sides=2):
    t = np.asarray(fractions, dtype=float)
    cumulative = spent(t, alpha, function=function, parameter=parameter, sides=sides)
    return z_boundaries(t, np.diff(cumulative, prepend=0.0), sides=sides)


EQUAL5 = np.arange(1, 6) / 5


@pytest.mark.parametrize(
    ("fractions", "alpha", "function", "parameter", "sides", "expected"),
    [
        (
            EQUAL5,
            0.05,
            "obrien-fleming",
            None,
            2,
            [4.876885, 3.357012, 2.680280, 2.289817, 2.031032],
        ),
        (EQUAL5, 0.05, "pocock", None, 2, [2.437977, 2.426814, 2.410194, 2.396645, 2.385985]),
        (EQUAL5, 0.05, "hsd", -2.0, 2, [2.890282, 2.708488, 2.514076, 2.314999, 2.109951]),
        ([0.2, 0.45, 0.7, 1.0], 0.05, "power", 2.0, 2, [3.090232, 2.621862, 2.347619, 2.075653]),
        (EQUAL5, 0.025, "hsd", -2.0, 1, [2.890282, 2.708488, 2.514076, 2.314999, 2.109954]),
    ],
)
def test_spending_boundaries_match_rpact(fractions, alpha, function, parameter, sides, expected):
    got = bounds(fractions, alpha, function, parameter, sides)
    np.testing.assert_allclose(got, expected, atol=5e-5)


def test_classical_constants_match_jennison_turnbull_tables():
    assert classical_constant(5, 0.05, shape="pocock") == pytest.approx(2.413176, abs=5e-5)
    assert classical_constant(5, 0.05, shape="obrien-fleming") == pytest.approx(2.040073, abs=5e-5)


def test_spending_is_evaluated_at_the_information_reached():
    design = GroupSequentialDesign(max_seeds=10)
    unplanned = design_boundaries(design, (3, 4, 7, 10))
    expected = spent(np.array([0.3, 0.4, 0.7, 1.0]), 0.05, function="hsd", parameter=-4.0)
    np.testing.assert_allclose(unplanned.alpha_spent, expected)
    assert unplanned.alpha_spent[-1] == pytest.approx(0.05)
    # an interim look past nothing planned still gets a finite boundary of its own
    assert np.all(np.isfinite(unplanned.t_efficacy))
    # looks past the budget are not part of the design
    assert design_boundaries(design, (5, 10, 12)).seeds == (5, 10)


def t_paths(rng, sims, n_max, delta=0.0):
    x = delta + rng.standard_normal((sims, n_max))
    return running_mean_sd(x)


def test_t_boundaries_keep_the_error_at_alpha_where_z_conversion_does_not():
    rng = np.random.default_rng(5)
    n_max, alpha, sims = 10, 0.05, 40_000
    looks = np.arange(2, n_max + 1)
    fractions = looks / n_max
    increments = np.diff(spent(fractions, alpha, function="pocock"), prepend=0.0)
    z = z_boundaries(fractions, increments)
    t_bound = t_boundaries(looks, increments, z)
    mean, sd = t_paths(rng, sims, n_max)
    t = mean[:, looks - 1] / (sd[:, looks - 1] / np.sqrt(looks))
    error = np.mean((np.abs(t) >= t_bound).any(axis=1))
    from scipy import special

    naive = special.stdtrit(looks - 1, special.ndtr(z))  # same nominal level at n - 1 df
    naive_error = np.mean((np.abs(t) >= naive).any(axis=1))
    se = np.sqrt(alpha * (1 - alpha) / sims)
    assert error <= alpha + 3 * se
    assert naive_error > alpha + 3 * se, "the plain nominal conversion overshoots at small n"


def test_family_wise_error_with_three_comparisons_sharing_a_baseline():
    rng = np.random.default_rng(6)
    design = GroupSequentialDesign(max_seeds=8, comparisons=3)
    b = design_boundaries(design, planned_looks(design))
    sims = 20_000
    base = rng.standard_normal((sims, 1, 8))
    mean, sd = running_mean_sd(rng.standard_normal((sims, 3, 8)) - base)
    index = np.asarray(b.seeds) - 1
    t = mean[..., index] / (sd[..., index] / np.sqrt(index + 1.0))
    error = np.mean((np.abs(t) >= np.asarray(b.t_efficacy)).any(axis=(1, 2)))
    assert error <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / sims)


def test_decisions_on_hand_made_looks():
    design = GroupSequentialDesign(max_seeds=4, margin=1.0)
    b = design_boundaries(design, (2, 3, 4))
    # t = mean/(sd/sqrt(n)): huge at the last look only -> efficacy there
    mean = np.array([-0.1, -0.1, -1.0])
    sd = np.array([1.0, 1.0, 0.01])
    codes = decision_codes(mean, sd, b, margin=1.0)
    assert codes.tolist() == [0, 0, EFFICACY_BETTER]
    # a tiny sd around 0: |mean| + q*se far inside the margin -> futility at the first look
    codes = decision_codes(np.zeros(3), np.full(3, 0.01), b, margin=1.0)
    assert codes.tolist() == [FUTILITY] * 3


def test_one_comparison_verdicts_and_repeated_confidence_interval():
    design = GroupSequentialDesign(max_seeds=10, margin=0.5)
    diffs = np.array([-1.02, -0.98, -1.01, -0.99, -1.0, -1.03, -0.97, -1.0])
    result, b = group_sequential_test(diffs, design)
    assert result.verdict == "better" and result.stopped == "efficacy"
    assert result.decided_at is not None and result.cs_high < 0 < -result.cs_low
    same, _ = group_sequential_test(diffs + 1.0, design)
    assert same.verdict == "equivalent" and same.stopped == "futility"
    assert same.within_margin


def test_compare_reads_the_looks_it_is_given():
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(10):
        shared = rng.normal()
        rows += [
            {"variant": "base", "seed": seed, "loss": shared},
            {"variant": "fast", "seed": seed, "loss": shared - 1.0 + 0.1 * rng.normal()},
        ]
    table = pl.DataFrame(rows)
    design = GroupSequentialDesign(max_seeds=10)
    report = group_sequential_compare(
        table, metric="loss", baseline="base", design=design, looks={"fast": (10,)}
    )
    (comparison,) = report.comparisons
    assert comparison.result.decided_at == 10, "only the recorded look counts"
    assert report.design == "group-sequential"
    assert report.to_dict()["design_details"]["design"]["max_seeds"] == 10
    with pytest.raises(ValueError, match="comparison"):
        group_sequential_compare(
            table,
            metric="loss",
            baseline="base",
            design=GroupSequentialDesign(max_seeds=10, comparisons=2),
        )
