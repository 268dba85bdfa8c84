"""analysis.compare: the Python API, its JSON schema, verdicts, tiers, advice and bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

import analysis
from analysis import AnalysisError, compare, compare_values, make_tiers

SLEEP_GROUP1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_GROUP2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

SCHEMA_TOP = [
    "metric",
    "direction",
    "alpha",
    "correction",
    "paired",
    "seed_noise_sd",
    "min_detectable_effect",
    "variants",
    "comparisons",
    "tiers",
]
SCHEMA_VARIANT = ["variant", "n", "mean", "sd", "ci_low", "ci_high"]
SCHEMA_COMPARISON = [
    "variant",
    "baseline",
    "n_pairs",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "effect_size",
    "prob_improvement",
    "verdict",
    "seeds_needed",
]
EXTRA_TOP = ["test", "effect_size_kind", "n_comparisons", "warnings"]
# Issue 18: lost runs, divergence, the metric's resolution, the seed-adjusted means; per
# comparison its design, df, whether its noise was measured and why a verdict was
# withheld. Added after the existing fields, never renaming them.
ISSUE18_TOP = ["runs", "divergence_test", "resolution", "adjusted_means"]
ISSUE18_VARIANT: list[str] = []  # variant entries keep their keys (legacy study test)
ISSUE18_COMPARISON = ["design", "df", "noise_measured", "withheld"]
ISSUE32_COMPARISON = ["survivors_only"]
ISSUE35_TOP = ["unranked"]  # single-run variants: no verdict, no tier


def sleep_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "variant": ["control"] * 10 + ["drug"] * 10,
            "seed": list(range(10)) * 2,
            "extra": SLEEP_GROUP2 + SLEEP_GROUP1,
        }
    )


def table_from(values: dict[str, list[float]], seeds: list[int] | None = None) -> pl.DataFrame:
    rows = [
        {"variant": name, "seed": (seeds or list(range(len(v))))[i], "val_loss": x}
        for name, v in values.items()
        for i, x in enumerate(v)
    ]
    return pl.DataFrame(rows)


def test_api_reproduces_r_sleep_example_paired_and_welch() -> None:
    paired = compare(sleep_table(), metric="extra", baseline="control")
    (c,) = paired.comparisons
    assert paired.paired and paired.test == "paired_t" and c.n_pairs == 10
    assert f"{c.p_value:.4g}" == "0.002833"
    assert (f"{c.ci_low:.8g}", f"{c.ci_high:.7g}") == ("-2.4598858", "-0.7001142")
    assert c.verdict == "better" and c.p_adjusted == c.p_value  # one comparison
    assert paired.tiers == (("drug",), ("control",))

    welch = compare(sleep_table(), metric="extra", baseline="control", paired=False)
    (c,) = welch.comparisons
    assert not welch.paired and welch.effect_size_kind == "hedges_g" and c.n_pairs == 0
    assert f"{c.p_value:.4g}" == "0.07939"
    assert (f"{c.ci_low:.8g}", f"{c.ci_high:.7g}") == ("-3.3654832", "0.2054832")
    assert c.verdict == "indistinguishable" and c.seeds_needed is not None
    assert welch.tiers == (("drug", "control"),)


def test_to_dict_has_the_issue_schema_and_is_json() -> None:
    result = compare(sleep_table(), metric="extra", baseline="control")
    data = result.to_dict()
    assert list(data) == SCHEMA_TOP + EXTRA_TOP + ISSUE18_TOP + ISSUE35_TOP
    assert [list(v) for v in data["variants"]] == [SCHEMA_VARIANT + ISSUE18_VARIANT] * 2
    assert [list(c) for c in data["comparisons"]] == [
        SCHEMA_COMPARISON + ISSUE18_COMPARISON + ISSUE32_COMPARISON
    ]
    assert data["tiers"] == [["drug"], ["control"]]
    assert json.loads(result.to_json()) == data
    assert data["variants"][0]["variant"] == "control"  # baseline first


def test_direction_flips_verdicts_and_probability_of_improvement() -> None:
    minimize = compare(sleep_table(), metric="extra", baseline="control")
    maximize = compare(sleep_table(), metric="extra", baseline="control", direction="maximize")
    assert minimize.comparisons[0].verdict == "better"
    assert maximize.comparisons[0].verdict == "worse"
    assert maximize.comparisons[0].prob_improvement == pytest.approx(
        1 - minimize.comparisons[0].prob_improvement
    )
    assert maximize.tiers == (("control",), ("drug",))


def test_equivalence_with_a_margin_is_a_tost_verdict() -> None:
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 1.0, 8)
    base = 3.0 + seed_effect
    close = base + np.array([0.01, -0.01, 0.005, -0.005, 0.008, -0.008, 0.012, -0.012])
    table = table_from({"base": list(base), "close": list(close)})
    without = compare(table, metric="val_loss")
    with_margin = compare(table, metric="val_loss", margin=0.05)
    assert without.comparisons[0].verdict == "indistinguishable"
    assert with_margin.comparisons[0].verdict == "equivalent"
    assert with_margin.n_comparisons == 2  # one difference test + one TOST, one family
    too_tight = compare(table, metric="val_loss", margin=0.001)
    assert too_tight.comparisons[0].verdict == "indistinguishable"


def test_tiers_and_verdicts_come_from_one_holm_family() -> None:
    rng = np.random.default_rng(5)
    seed_effect = rng.normal(0, 0.5, 6)
    noise = rng.normal(0, 0.01, (4, 6))
    shifts = {"base": 0.0, "a": -0.2, "b": -0.2, "c": 0.3}
    table = table_from(
        {name: list(3 + seed_effect + s + noise[i]) for i, (name, s) in enumerate(shifts.items())}
    )
    result = compare(table, metric="val_loss", baseline="base")
    assert result.n_comparisons == 6 and len(result.pairwise) == 6
    assert {c.variant: c.verdict for c in result.comparisons} == {
        "a": "better",
        "b": "better",
        "c": "worse",
    }
    assert [set(tier) for tier in result.tiers] == [{"a", "b"}, {"base"}, {"c"}]
    # The adjusted p-values are Holm over all six pairwise p-values.
    raw = np.array([c.p_value for c in result.pairwise])
    np.testing.assert_allclose([c.p_adjusted for c in result.pairwise], analysis.stats.holm(raw))
    bh = compare(table, metric="val_loss", baseline="base", correction="bh")
    assert any("false discovery rate" in w for w in bh.warnings)


def test_make_tiers_only_ranks_what_separates() -> None:
    names = ["a", "b", "c"]
    means = [1.0, 2.0, 3.0]
    everything = np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=bool)
    assert make_tiers(means, everything, direction="minimize", names=names) == (
        ("a",),
        ("b",),
        ("c",),
    )
    # a beats c, but b separates from neither: one tier (no ranking claim without evidence).
    only_ends = np.array([[0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=bool)
    assert make_tiers(means, only_ends, direction="minimize", names=names) == (("a", "b", "c"),)
    # a beats b and c; b and c do not separate.
    top = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]], dtype=bool)
    assert make_tiers(means, top, direction="minimize", names=names) == (("a",), ("b", "c"))
    # compare() says when a verdict and the tiers look at odds with each other: a beats
    # base clearly, b (noisy, in between) separates from neither, so all share one tier.
    base = 3 + np.random.default_rng(2).normal(0, 1.0, 6)
    a = base - 0.1 + np.array([0.01, -0.01, 0.005, -0.005, 0.0, 0.0])
    b = base - 0.05 + np.array([0.1, -0.1, 0.1, -0.1, 0.1, -0.1])
    result = compare_values(np.array([base, a, b]), ["base", "a", "b"])
    assert result.comparisons[0].verdict == "better" and len(result.tiers) == 1
    assert any("a is better than base but shares its tier" in w for w in result.warnings)
    maximize_top = np.array([[0, 0, 0], [0, 0, 0], [1, 1, 0]], dtype=bool)
    assert make_tiers(means, maximize_top, direction="maximize", names=names) == (
        ("c",),
        ("b", "a"),
    )


def test_pairs_on_shared_seeds_and_falls_back_to_welch() -> None:
    values = {"base": [3.0, 3.1, 3.2, 3.3], "v": [2.9, 3.0, 3.1, 3.25]}
    shared = compare(table_from(values), metric="val_loss")
    assert shared.paired and shared.comparisons[0].n_pairs == 4
    disjoint = compare(
        pl.concat(
            [
                table_from({"base": values["base"]}, seeds=[0, 1, 2, 3]),
                table_from({"v": values["v"]}, seeds=[4, 5, 6, 7]),
            ]
        ),
        metric="val_loss",
    )
    assert not disjoint.paired and disjoint.test == "welch_t"
    with pytest.raises(AnalysisError, match="--unpaired"):
        compare(
            pl.concat(
                [
                    table_from({"base": values["base"]}, seeds=[0, 1, 2, 3]),
                    table_from({"v": values["v"]}, seeds=[4, 5, 6, 7]),
                ]
            ),
            metric="val_loss",
            paired=True,
        )


def test_partial_overlap_pairs_the_shared_seeds_and_says_so() -> None:
    table = pl.concat(
        [
            table_from({"base": [3.0, 3.1, 3.2, 3.3]}, seeds=[0, 1, 2, 3]),
            table_from({"v": [2.9, 3.0, 3.1]}, seeds=[0, 1, 2]),
        ]
    )
    result = compare(table, metric="val_loss")
    assert result.comparisons[0].n_pairs == 3
    assert result.comparisons[0].diff == pytest.approx(-0.1)
    assert any("without a partner" in w for w in result.warnings)


def test_seeds_needed_only_for_indistinguishable_and_small_n_warning() -> None:
    rng = np.random.default_rng(11)
    values = {name: list(3 + rng.normal(0, 0.05, 2)) for name in ("base", "a", "b", "c")}
    result = compare(table_from(values), metric="val_loss")
    assert all(c.verdict == "indistinguishable" for c in result.comparisons)
    assert all(c.seeds_needed is not None and c.seeds_needed > 2 for c in result.comparisons)
    assert any(w.startswith("too few seeds") for w in result.warnings)
    big = compare(sleep_table(), metric="extra", baseline="control")
    assert big.comparisons[0].seeds_needed is None
    assert not any(w.startswith("too few seeds") for w in big.warnings)


def test_missing_and_non_finite_values_are_left_out_with_a_warning() -> None:
    table = sleep_table().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("extra")).alias("extra")
    )
    result = compare(table, metric="extra", baseline="control")
    assert result.variants[0].n == 9 and result.comparisons[0].n_pairs == 9
    assert any("left out" in w for w in result.warnings)


def test_degenerate_identical_variants() -> None:
    values = {"base": [1.0, 2.0, 3.0], "copy": [1.0, 2.0, 3.0]}
    result = compare(table_from(values), metric="val_loss")
    c = result.comparisons[0]
    assert c.p_value == 1.0 and c.verdict == "indistinguishable" and c.seeds_needed is None
    assert c.to_dict()["effect_size"] is None  # 0/0 is not a number, and JSON has no NaN
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "val_los"}, "did you mean 'val_loss'"),
        ({"metric": "val_loss", "baseline": "bse"}, "did you mean 'base'"),
        ({"metric": "val_loss", "alpha": 1.5}, "alpha"),
        ({"metric": "val_loss", "margin": -1.0}, "margin"),
        ({"metric": "val_loss", "direction": "down"}, "direction"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict, message: str) -> None:
    table = table_from({"base": [1.0, 2.0], "v": [1.5, 2.5]})
    with pytest.raises(AnalysisError, match=message):
        compare(table, **kwargs)


def test_fewer_than_two_seeds_and_one_variant_are_errors() -> None:
    with pytest.raises(AnalysisError, match=r"fewer than 2 seeds for .*nothing can be compared"):
        compare(table_from({"base": [1.0], "v": [1.5]}), metric="val_loss")
    with pytest.raises(AnalysisError, match="at least 2 variants"):
        compare(table_from({"base": [1.0, 1.1]}), metric="val_loss")


def test_duplicate_runs_are_an_error() -> None:
    table = pl.concat([sleep_table(), sleep_table().head(1)])
    with pytest.raises(AnalysisError, match="more than one row for variant 'control', seed 0"):
        compare(table, metric="extra")


def test_compare_values_matches_compare() -> None:
    matrix = np.array([SLEEP_GROUP2, SLEEP_GROUP1])
    direct = compare_values(matrix, ["control", "drug"], metric="extra")
    via_table = compare(sleep_table(), metric="extra")
    assert direct.to_dict() == via_table.to_dict()


def test_to_frame() -> None:
    result = compare(sleep_table(), metric="extra", baseline="control")
    frame = result.to_frame()
    assert frame["variant"].to_list() == ["control", "drug"]
    assert frame["verdict"].to_list() == ["baseline", "better"]
