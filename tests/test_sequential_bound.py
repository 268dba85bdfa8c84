"""The bound behind issue 24's 'impossible at N = 10' (benchmarks/sequential_bound.py): its
likelihood ratio is the noncentral-t one, and its backward induction, asked for the most power
it can have, finds the fixed t-test's power at the error it was given."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import sequential_bound as bound

from analysis.power import paired_t_power


@pytest.mark.parametrize("n", [2, 4, 9, 25])
@pytest.mark.parametrize("delta", [0.3, 1.2])
def test_invariant_likelihood_ratio_is_the_noncentral_t_ratio(n: int, delta: float) -> None:
    t = np.linspace(-3.0, 5.0, 17)
    r = t / np.sqrt(n - 1 + t * t)
    expected = stats.nct.logpdf(t, n - 1, delta * math.sqrt(n)) - stats.t.logpdf(t, n - 1)
    assert np.allclose(bound.invariant_log_lr(n, delta, r), expected, atol=1e-5)


def test_induction_reaches_the_fixed_tests_power_and_keeps_the_error() -> None:
    n_max, delta, error = 6, 1.2, 0.025
    chain = bound.binned_chain(np.random.default_rng(5), n_max, delta, 60_000, 120)
    most = bound.at_error(chain, 10.0, error)
    fixed = float(paired_t_power(n_max, delta, alpha=2 * error))
    # the error is estimated on 60 000 null paths: 3 Monte-Carlo s.e. of 0.025 is 0.0019
    assert most.error <= error + 0.002
    assert abs(most.power - fixed) < 0.02
    cheaper = bound.least_seeds(chain, error, 0.9 * fixed)
    assert cheaper.power >= 0.9 * fixed
    assert cheaper.mean_seeds < most.mean_seeds
