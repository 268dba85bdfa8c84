"""The regress gate's decision, by hand: only a significant regression beyond tolerance fails."""

from __future__ import annotations

import pytest

from harness.bisect.paired import Paired
from harness.bisect.regress import Tolerance, judge_regression
from harness.errors import UserError


def paired(diff: float, low: float, high: float, p: float = 0.01) -> Paired:
    return Paired(
        n_pairs=6, diff=diff, ci_low=low, ci_high=high, p_value=p, effect_size=1.0,
        bound_low=low, bound_high=high,
    )  # fmt: skip


def outcome(comparison: Paired | None, tolerance: float = 0.0, direction: str = "minimize") -> str:
    return judge_regression(
        comparison, tolerance=tolerance, direction=direction, alpha=0.05
    ).outcome


def test_a_significant_regression_fails_the_gate():
    result = judge_regression(
        paired(0.3, 0.1, 0.5), tolerance=0.0, direction="minimize", alpha=0.05, metric="val_loss"
    )
    assert result.outcome == "regression" and result.exit_code == 1
    assert result.message.startswith("REGRESSION: HEAD is worse than the reference by 0.3")
    assert "95% CI +0.1 .. +0.5" in result.message
    better = judge_regression(paired(-0.3, -0.5, -0.1), tolerance=0, direction="minimize",
                              alpha=0.05).message  # fmt: skip
    assert "HEAD is better than the reference by 0.3" in better


def test_tolerance_absorbs_small_regressions():
    assert outcome(paired(0.3, 0.1, 0.5), tolerance=0.05) == "regression"  # 0.1 > 0.05
    assert outcome(paired(0.3, 0.1, 0.5), tolerance=0.2) == "no_regression"  # could be < 0.2
    assert outcome(paired(0.3, 0.1, 0.5), tolerance=0.5) == "equivalent"  # at most 0.5 worse
    assert outcome(paired(0.0, -0.1, 0.1), tolerance=0.2) == "equivalent"


def test_noise_and_improvements_pass():
    result = judge_regression(paired(0.1, -0.1, 0.3, p=0.3), tolerance=0.0, direction="minimize",
                              alpha=0.05)  # fmt: skip
    assert result.outcome == "no_regression" and result.exit_code == 0
    assert "cannot exclude a regression of up to 0.3" in result.message
    assert outcome(paired(-0.3, -0.5, -0.1)) == "no_regression"  # better
    assert outcome(None) == "no_regression"  # one seed: nothing testable, never a failure


def test_maximize_metrics_regress_downwards():
    assert outcome(paired(-0.3, -0.5, -0.1), direction="maximize") == "regression"
    assert outcome(paired(0.3, 0.1, 0.5), direction="maximize") == "no_regression"


def test_tolerance_parses_units_and_percentages():
    assert Tolerance.parse("0.02").absolute(3.0) == 0.02
    assert Tolerance.parse("1%").absolute(3.0) == pytest.approx(0.03)
    assert Tolerance.parse("1%").absolute(-3.0) == pytest.approx(0.03)
    assert str(Tolerance.parse("1.5%")) == "1.5%"
    for bad in ("-1", "x", "nan", "%"):
        with pytest.raises(UserError):
            Tolerance.parse(bad)
