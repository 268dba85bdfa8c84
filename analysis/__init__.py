"""Statistics over tables of results: estimators, CIs, tests, power, tiers.

Pure functions over arrays and DataFrames (numpy, scipy, statsmodels, polars; never torch).
Randomness, where any is needed, comes in as an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from analysis.blocked import BlockedFit, fit_seed_blocked, seed_blocked_contrasts
from analysis.compare import (
    AnalysisError,
    ComparisonResult,
    PairComparison,
    VariantSummary,
    compare,
    compare_values,
    make_tiers,
)
from analysis.curves import Aggregation, aggregate_curves, curve_bands, parse_agg
from analysis.factorial import Effect, FactorialResult, factorial, factorial_values
from analysis.group_sequential import GroupSequentialDesign
from analysis.group_sequential_report import group_sequential_compare
from analysis.over_steps import OverStepsResult, compare_over_steps
from analysis.pareto import ParetoResult, pareto_front
from analysis.sequential import SequentialReport, sequential_compare
from analysis.trend import Trend, sweep_trends

__all__ = [
    "Aggregation",
    "AnalysisError",
    "BlockedFit",
    "ComparisonResult",
    "Effect",
    "FactorialResult",
    "GroupSequentialDesign",
    "OverStepsResult",
    "PairComparison",
    "ParetoResult",
    "SequentialReport",
    "Trend",
    "VariantSummary",
    "aggregate_curves",
    "compare",
    "compare_over_steps",
    "compare_values",
    "curve_bands",
    "factorial",
    "factorial_values",
    "fit_seed_blocked",
    "group_sequential_compare",
    "make_tiers",
    "pareto_front",
    "parse_agg",
    "seed_blocked_contrasts",
    "sequential_compare",
    "sweep_trends",
]
