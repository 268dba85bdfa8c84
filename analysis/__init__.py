"""Statistics over tables of results: estimators, CIs, tests, power, tiers.

Pure functions over arrays and DataFrames (numpy, scipy, statsmodels, polars; never torch).
Randomness, where any is needed, comes in as an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each public name is imported on first use (PEP 562): importing one light module, such as
# ``analysis.verdict`` for the study schema or a command's flags, does not pull in numpy,
# scipy and polars through this file.
_HOMES = {
    "Aggregation": "analysis.curves",
    "AnalysisError": "analysis.compare",
    "BlockedFit": "analysis.blocked",
    "ComparisonResult": "analysis.compare",
    "Effect": "analysis.factorial",
    "FactorialResult": "analysis.factorial",
    "GroupSequentialDesign": "analysis.group_sequential",
    "OverStepsResult": "analysis.over_steps",
    "PairComparison": "analysis.compare",
    "ParetoResult": "analysis.pareto",
    "SequentialReport": "analysis.sequential",
    "Trend": "analysis.trend",
    "VariantSummary": "analysis.compare",
    "aggregate_curves": "analysis.curves",
    "compare": "analysis.compare",
    "compare_over_steps": "analysis.over_steps",
    "compare_values": "analysis.compare",
    "curve_bands": "analysis.curves",
    "factorial": "analysis.factorial",
    "factorial_values": "analysis.factorial",
    "fit_seed_blocked": "analysis.blocked",
    "group_sequential_compare": "analysis.group_sequential_report",
    "make_tiers": "analysis.compare",
    "pareto_front": "analysis.pareto",
    "parse_agg": "analysis.curves",
    "seed_blocked_contrasts": "analysis.blocked",
    "sequential_compare": "analysis.sequential",
    "sweep_trends": "analysis.trend",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The package, keeping its public functions under their names: ``compare`` and
    ``factorial`` share theirs with the modules that define them, and the import system binds
    each submodule on the package as it loads; the function keeps the name, as it did when
    this file imported everything eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
