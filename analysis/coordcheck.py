"""The coordinate check's verdict: does any activation grow or shrink with width?

Input: one row per (width, seed, step, activation, layer) with ``value`` = mean |x| of that
activation (``harness.coordcheck.measure``). For each seed, activation, layer and step, the
slope of log(value) against log(width) by least squares; then, per activation, layer and step,
the mean slope across seeds with its t-interval. Under a correct muP every slope is 0 up to
finite-width noise; an activation that scales like width^a has slope a.

The rule (docs/coordcheck.md says why): an (activation, layer, step) *fails* when the mean slope
is farther than ``tolerance`` from 0 and its ``1 − alpha`` t-interval excludes 0 — it moves with
width by more than the tolerance allows, and not by seed noise alone. It is *within tolerance*
only when the data show it: its ``1 − 2·alpha`` t-interval lies inside ``[−tolerance,
tolerance]`` (the two one-sided tests of equivalence, TOST, each at level alpha; Schuirmann
1987). Anything else is *uncertain*: neither shown to move nor shown to stay flat.

The verdict: FAIL when any slope fails (or a value is not finite); PASS when every judged slope
is within tolerance; INCONCLUSIVE otherwise (more seeds or widths narrow the intervals). A PASS
claims all slopes are flat at once; as an intersection–union test it keeps level alpha without
a multiplicity correction (Berger 1982), so the chance that a slope truly beyond the tolerance
passes is at most alpha. Only steps at or after ``min_step`` are judged (step 0 is the initial
model; step 1 is the first forward pass after an update).

Pure numpy/polars; no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.stats import mean_ci

DEFAULT_TOLERANCE = 0.5
PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"


@dataclass(frozen=True)
class CoordCheckResult:
    """The verdict of a coordinate check.

    Attributes:
        passed: True when every judged slope is shown within tolerance (verdict PASS).
        tolerance: the largest |slope| allowed.
        alpha: 1 - the t-interval's confidence.
        min_step: the first judged step.
        slopes: one row per (activation, layer, step): ``activation``, ``layer`` (null for
            model-level activations), ``step``, ``n_seeds``, ``slope`` (mean over seeds),
            ``sd``, ``ci_low``, ``ci_high`` (the ``1 − alpha`` interval), ``equiv_low``,
            ``equiv_high`` (the ``1 − 2 alpha`` interval that must lie inside the tolerance),
            ``judged``, ``status`` ("ok": within tolerance, "uncertain", "grows", "shrinks",
            "not finite", or "" where not judged).
        failures: one line per failing activation and layer, naming its steps.
        uncertain: one line per activation and layer with an uncertain slope (and none
            failing), naming its steps.
    """

    passed: bool
    tolerance: float
    alpha: float
    min_step: int
    slopes: pl.DataFrame
    failures: tuple[str, ...]
    uncertain: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Some slope moves with width beyond the tolerance and seed noise, or is not finite."""
        return bool(self.failures)

    @property
    def verdict(self) -> str:
        """ "PASS", "FAIL" or "INCONCLUSIVE"."""
        if self.failed:
            return FAIL
        return PASS if self.passed else INCONCLUSIVE


def per_seed_slopes(table: pl.DataFrame) -> pl.DataFrame:
    """Slope of log(value) on log(width) for each (activation, layer, step, seed).

    Args:
        table: columns ``width``, ``seed``, ``step``, ``activation``, ``layer``, ``value``.

    Returns:
        Columns ``activation``, ``layer``, ``step``, ``seed``, ``slope`` (NaN where a value is
        not finite or not positive: the log is undefined).
    """
    keys = ["activation", "layer", "step", "seed"]
    data = table.select([*keys, "width", "value"]).sort([*keys, "width"])
    groups = data.group_by(keys, maintain_order=True).agg(pl.col("width"), pl.col("value"))
    slopes = []
    for widths, values in zip(groups["width"].to_list(), groups["value"].to_list(), strict=True):
        x = np.log(np.asarray(widths, dtype=np.float64))
        y = np.asarray(values, dtype=np.float64)
        if len(x) < 2 or not np.all(np.isfinite(y) & (y > 0)):
            slopes.append(float("nan"))
            continue
        y = np.log(y)
        xc = x - x.mean()
        slopes.append(float((xc * (y - y.mean())).sum() / (xc**2).sum()))
    return groups.select(keys).with_columns(pl.Series("slope", slopes, dtype=pl.Float64))


def coord_check(
    table: pl.DataFrame,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    alpha: float = 0.05,
    min_step: int = 1,
    order: Sequence[str] = (),
) -> CoordCheckResult:
    """Slopes against width with their spread across seeds, and the PASS / FAIL /
    INCONCLUSIVE verdict (module docstring).

    Args:
        table: the records (see :func:`per_seed_slopes`); rows whose activation is not a tapped
            activation (e.g. "loss") should be filtered out by the caller.
        tolerance: the largest |mean slope| that passes.
        alpha: the failing rule's t-interval is at level 1 - alpha (not corrected for the many
            slopes: the tolerance, not the interval, carries the decision; the interval only
            keeps a slope that seed noise alone could produce from failing); the PASS rule's is
            at 1 - 2 alpha (TOST at level alpha, intersection-union over all slopes).
        min_step: the first step judged.
        order: activations in display order (others follow in order of appearance).

    Returns:
        The :class:`CoordCheckResult`.
    """
    seeds = per_seed_slopes(table)
    keys = ["activation", "layer", "step"]
    grouped = seeds.group_by(keys, maintain_order=True).agg(pl.col("slope"))
    per_key = grouped["slope"].to_list()
    n_max = max((len(s) for s in per_key), default=0)
    matrix = np.full((len(per_key), max(n_max, 1)), np.nan)
    for i, values in enumerate(per_key):
        matrix[i, : len(values)] = values
    stats = mean_ci(matrix, alpha=alpha)
    equivalence = mean_ci(matrix, alpha=2 * alpha)
    all_finite = np.array([np.all(np.isfinite(v)) for v in per_key], dtype=bool)
    slope, low, high = stats["mean"], stats["ci_low"], stats["ci_high"]
    judged = grouped["step"].to_numpy() >= min_step
    outside = np.abs(np.nan_to_num(slope)) > tolerance
    excludes_zero = (low > 0) | (high < 0)
    # NaN bounds (a single seed: no spread to judge) compare False: never within tolerance.
    within = (equivalence["ci_low"] >= -tolerance) & (equivalence["ci_high"] <= tolerance)
    status = np.where(
        ~judged,
        "",
        np.where(
            ~all_finite,
            "not finite",
            np.where(
                outside & excludes_zero,
                np.where(slope > 0, "grows", "shrinks"),
                np.where(within, "ok", "uncertain"),
            ),
        ),
    )
    names = _activation_order(grouped["activation"], order)
    rank = {name: i for i, name in enumerate(names)}
    slopes = (
        grouped.select(keys)
        .with_columns(
            pl.Series("n_seeds", stats["n"].astype(np.int64)),
            pl.Series("slope", slope),
            pl.Series("sd", stats["sd"]),
            pl.Series("ci_low", low),
            pl.Series("ci_high", high),
            pl.Series("equiv_low", equivalence["ci_low"]),
            pl.Series("equiv_high", equivalence["ci_high"]),
            pl.Series("judged", judged),
            pl.Series("status", status.astype(str)),
            pl.col("activation").replace_strict(rank, return_dtype=pl.Int64).alias("_order"),
        )
        .sort(["_order", "layer", "step"], nulls_last=False)
        .drop("_order")
    )
    failures = _failure_lines(slopes)
    uncertain = _uncertain_lines(slopes)
    return CoordCheckResult(
        passed=not failures and not uncertain,
        tolerance=tolerance,
        alpha=alpha,
        min_step=min_step,
        slopes=slopes,
        failures=tuple(failures),
        uncertain=tuple(uncertain),
    )


def _activation_order(names: pl.Series, order: Sequence[str]) -> list[str]:
    """``order`` first, then any other activation in order of first appearance."""
    known = [name for name in order]
    return known + [name for name in names.unique(maintain_order=True) if name not in known]


def _failure_lines(slopes: pl.DataFrame) -> list[str]:
    """One line per failing (activation, layer): its direction, steps and worst slope."""
    bad = slopes.filter(pl.col("status").is_in(["grows", "shrinks", "not finite"]))
    lines = []
    for (activation, layer), group in bad.group_by(["activation", "layer"], maintain_order=True):
        where = activation if layer is None else f"{activation} (layer {layer})"
        steps = ", ".join(str(s) for s in group["step"].to_list())
        statuses = sorted(set(group["status"].to_list()))
        finite = group.filter(pl.col("slope").is_finite())
        worst = ""
        if len(finite):
            row = finite.row(int(np.argmax(np.abs(finite["slope"].to_numpy()))), named=True)
            worst = f"; worst slope {row['slope']:+.2f} at step {row['step']}"
        lines.append(f"{where} {' / '.join(statuses)} with width at steps {steps}{worst}")
    return lines


def _uncertain_lines(slopes: pl.DataFrame) -> list[str]:
    """One line per (activation, layer) with an uncertain slope: its steps and widest reach."""
    open_ = slopes.filter(pl.col("status") == "uncertain")
    lines = []
    for (activation, layer), group in open_.group_by(["activation", "layer"], maintain_order=True):
        where = activation if layer is None else f"{activation} (layer {layer})"
        steps = ", ".join(str(s) for s in group["step"].to_list())
        reach = group.with_columns(
            pl.max_horizontal(pl.col("equiv_low").abs(), pl.col("equiv_high").abs()).alias("_r")
        ).filter(pl.col("_r").is_finite())
        widest = ""
        if len(reach):
            row = reach.row(int(np.argmax(reach["_r"].to_numpy())), named=True)
            widest = (
                f"; widest interval [{row['equiv_low']:+.2f}, {row['equiv_high']:+.2f}] "
                f"at step {row['step']}"
            )
        else:
            widest = "; one seed: no interval"
        lines.append(f"{where} not shown within tolerance at steps {steps}{widest}")
    return lines


# -- wider is better ------------------------------------------------------------------------


@dataclass(frozen=True)
class WiderResult:
    """Whether the final training loss gets worse with width.

    Attributes:
        passed: False when the loss rises with width beyond seed noise.
        slope: mean over seeds of the least-squares slope of loss against log2(width): the
            loss change per doubling of width.
        ci_low, ci_high: its t-interval across seeds.
        alpha: 1 - the interval's confidence.
        per_width: ``width``, ``loss`` (mean over seeds), by width.
        losses: the input table.
        reason: why it failed ("" when it passed).
    """

    passed: bool
    slope: float
    ci_low: float
    ci_high: float
    alpha: float
    per_width: pl.DataFrame
    losses: pl.DataFrame
    reason: str


def wider_is_better(losses: pl.DataFrame, *, alpha: float = 0.05) -> WiderResult:
    """FAIL when the loss gets worse with width.

    Per seed, the slope of loss against log2(width); across seeds its mean and t-interval.
    Fails when the interval lies above 0 — the loss rises with width beyond seed noise, the
    notebook's "4x is worse than 2x is worse than 1x" — or when a loss is not finite. One test
    over all widths, not one per pair of widths: pairwise tests with 3 seeds would raise false
    alarms on a flat curve.

    Args:
        losses: columns ``width``, ``seed``, ``loss``.
        alpha: the interval is at level 1 - alpha.
    """
    seeds = (
        losses.sort("width")
        .group_by("seed", maintain_order=True)
        .agg(pl.col("width"), pl.col("loss"))
        .sort("seed")
    )
    slopes = []
    for widths, values in zip(seeds["width"].to_list(), seeds["loss"].to_list(), strict=True):
        x = np.log2(np.asarray(widths, dtype=np.float64))
        y = np.asarray(values, dtype=np.float64)
        xc = x - x.mean()
        slopes.append(float((xc * (y - y.mean())).sum() / (xc**2).sum()))
    stats = mean_ci(np.asarray(slopes), alpha=alpha)
    slope, low, high = (float(stats[k]) for k in ("mean", "ci_low", "ci_high"))
    per_width = losses.group_by("width").agg(pl.col("loss").mean()).sort("width")
    reasons = []
    if np.isfinite(low) and low > 0:
        reasons.append(f"the loss rises by {slope:+.4f} per doubling of width")
    if not np.all(np.isfinite(losses["loss"].to_numpy())):
        reasons.append("a run's loss is not finite")
    return WiderResult(
        passed=not reasons,
        slope=slope,
        ci_low=low,
        ci_high=high,
        alpha=alpha,
        per_width=per_width,
        losses=losses,
        reason="; ".join(reasons),
    )
