"""analysis.power: one search for the smallest paired design, reachable from its old homes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import power, sequential, stats


def test_power_names_stay_importable_from_stats_and_sequential() -> None:
    assert stats.seeds_needed is power.seeds_needed
    assert stats.minimum_detectable_effect is power.minimum_detectable_effect
    assert stats.significance_threshold is power.significance_threshold
    assert stats.t_power is power.t_power
    assert sequential.fixed_n_equal_power is power.fixed_n_equal_power
    assert sequential.paired_t_power is power.paired_t_power
    assert sequential.tost_power is power.tost_power


@pytest.mark.parametrize("alpha", [0.05, 0.05 / 3, 0.001])
@pytest.mark.parametrize("target", [0.5, 0.8, 0.99])
def test_fixed_n_is_the_smallest_n_reaching_the_power(alpha: float, target: float) -> None:
    effects = np.array([0.05, 0.2, 0.5, 1.0, 2.0, 5.0])
    needed = power.seeds_needed(effects, 1.0, alpha=alpha, power=target)
    for effect, n in zip(effects, needed, strict=True):
        assert power.fixed_n_equal_power(effect, alpha=alpha, power=target) == n
        assert power.paired_t_power(n, effect, alpha=alpha) >= target
        if n > 2:
            assert power.paired_t_power(n - 1, effect, alpha=alpha) < target


def test_fixed_n_without_a_finite_nonzero_effect() -> None:
    # No effect: the power is alpha at every n, reached at once when the target is below it.
    assert power.fixed_n_equal_power(0.0, alpha=0.05, power=0.8, max_n=1000) is None
    assert power.fixed_n_equal_power(0.0, alpha=0.1, power=0.05) == 2
    # No spread: every design detects the effect.
    assert power.fixed_n_equal_power(math.inf, alpha=0.05, power=0.99) == 2
    assert power.fixed_n_equal_power(math.nan, alpha=0.05, power=0.8) is None
    # More pairs than max_n would be needed.
    assert power.fixed_n_equal_power(0.5, alpha=0.05, power=0.8, max_n=33) is None
    assert power.fixed_n_equal_power(0.5, alpha=0.05, power=0.8, max_n=34) == 34
    with pytest.raises(ValueError, match="power"):
        power.fixed_n_equal_power(0.5, alpha=0.05, power=1.0)
    with pytest.raises(ValueError, match="alpha"):
        power.fixed_n_equal_power(0.5, alpha=0.0, power=0.8)
