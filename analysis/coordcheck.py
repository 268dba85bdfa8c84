"""The coordinate check's verdict: does any activation grow or shrink with width?

Input: one row per (width, seed, step, activation, layer) with ``value`` = mean |x| of that
activation (``harness.coordcheck.measure``). An activation that scales like width^a has
log(value) = c + a · log(width): a is its *width exponent*, 0 under a correct muP as width → ∞.

The statistic (docs/coordcheck.md says how it was chosen): for each activation and layer, the
mean of log(value) over the judged steps (``first_step`` on; step 0 is the initial model) is
regressed on log(width) with one intercept per seed (seeds as blocks: a seed fixes the batch,
shared by every width). Its slope is the exponent, its standard error comes from the residuals
(``S·W − S − 1`` degrees of freedom for S seeds and W widths). Averaging over steps before the
fit removes most of the step-to-step noise without treating correlated steps as independent.

The rule, a three-decision test on each (activation, layer):

- *within tolerance* when the two one-sided tests of equivalence (TOST, Schuirmann 1987) each
  reject at ``alpha_pass``: the ``1 − 2·alpha_pass`` interval lies inside ``[−tol, tol]``;
- *grows* / *shrinks* when the one-sided ``1 − alpha_fail`` bound lies beyond the tolerance
  (the exponent is shown to exceed it, not merely estimated to);
- *uncertain* otherwise; *not finite* when a judged value is not finite and positive.

The verdict: FAIL when any (activation, layer) grows, shrinks or is not finite; PASS when every
one is within tolerance; INCONCLUSIVE otherwise. With ``looks`` looks at the data (seeds added
while undecided), ``alpha_pass = alpha / looks`` and ``alpha_fail = alpha / (looks · M)`` for M
judged (activation, layer): by Bonferroni over looks (and, for FAIL, a union over M), and the
intersection–union principle for PASS (Berger 1982: every equivalence must hold, so no
correction over M), a model whose exponents are all beyond the tolerance PASSes, and one whose
exponents are all within it FAILs, each with probability at most ``alpha`` whatever the stopping
rule.

Pure numpy/polars; no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.distributions import t_quantile
from analysis.power import seeds_needed
from analysis.stats import mean_ci

DEFAULT_TOLERANCE = 0.25
PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
FAILING = ("grows", "shrinks", "not finite")


@dataclass(frozen=True)
class CoordCheckResult:
    """The verdict of a coordinate check.

    Attributes:
        verdict: "PASS", "FAIL" or "INCONCLUSIVE".
        tolerance: the largest |exponent| allowed.
        alpha: the error rate each verdict keeps (module docstring).
        looks: the number of looks the error rates are split over.
        first_step: the first judged step.
        exponents: one row per (activation, layer): ``activation``, ``layer`` (null for
            model-level activations), ``n_seeds``, ``slope`` (the width exponent), ``se``,
            ``df``, ``ci_low``, ``ci_high`` (the ``1 − 2·alpha_pass`` interval that must lie
            inside the tolerance to pass), ``fail_low``, ``fail_high`` (the one-sided
            ``1 − alpha_fail`` bounds, one of which must lie beyond it to fail), ``worst_step``
            and ``worst_step_slope`` (the judged step whose mean per-seed slope is farthest
            from 0, to show where it broke), ``status`` ("ok", "uncertain", "grows",
            "shrinks", "not finite").
        slopes: one row per (activation, layer, step): ``slope``, the mean over seeds of the
            per-seed least-squares slope at that step (for display: the per-step picture).
        failures: one line per failing activation and layer.
        uncertain: one line per uncertain activation and layer (when nothing fails).
    """

    verdict: str
    tolerance: float
    alpha: float
    looks: int
    first_step: int
    exponents: pl.DataFrame
    slopes: pl.DataFrame
    failures: tuple[str, ...]
    uncertain: tuple[str, ...] = ()

    @property
    def seeds(self) -> int:
        """The most seeds any activation was judged on."""
        counts = self.exponents["n_seeds"].to_list()
        return max(counts) if counts else 0

    @property
    def passed(self) -> bool:
        """Every exponent is shown within tolerance."""
        return self.verdict == PASS

    @property
    def failed(self) -> bool:
        """Some exponent is shown beyond the tolerance, or a value is not finite."""
        return self.verdict == FAIL


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


def blocked_slope(log_values: np.ndarray, log_widths: np.ndarray) -> tuple[float, float, int]:
    """Least-squares slope of ``log_values`` on ``log_widths`` with one intercept per seed.

    The model ``y[s, w] = c[s] + a · x[w] + e`` with independent errors of equal variance
    (R: ``lm(y ~ factor(seed) + x)``).

    Args:
        log_values: shape (seeds, widths).
        log_widths: shape (widths,).

    Returns:
        ``(slope, standard error, residual degrees of freedom)``; the standard error is NaN
        when there are no residual degrees of freedom.
    """
    y = np.asarray(log_values, dtype=np.float64)
    seeds, widths = y.shape
    xc = np.asarray(log_widths, dtype=np.float64) - np.mean(log_widths)
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = seeds * float((xc**2).sum())
    slope = float((yc * xc).sum() / sxx)
    df = seeds * widths - seeds - 1
    if df < 1:
        return slope, float("nan"), df
    residual = yc - slope * xc
    return slope, float(np.sqrt((residual**2).sum() / df / sxx)), df


def width_exponents(table: pl.DataFrame, *, first_step: int = 1) -> pl.DataFrame:
    """Each activation's width exponent over the judged steps (module docstring).

    Args:
        table: the records (see :func:`per_seed_slopes`), every (seed, width) present for each
            activation, layer and step.
        first_step: the first step judged.

    Returns:
        One row per (activation, layer), in order of appearance: ``activation``, ``layer``,
        ``n_seeds``, ``slope``, ``se``, ``df``, ``finite`` (every judged value finite and
        positive).
    """
    judged = table.filter(pl.col("step") >= first_step)
    means = (
        judged.with_columns(
            pl.when(pl.col("value") > 0).then(pl.col("value").log()).otherwise(float("nan"))
        )
        .group_by(["activation", "layer", "seed", "width"], maintain_order=True)
        .agg(pl.col("value").mean())
        .sort(["seed", "width"], maintain_order=True)
    )
    rows = []
    keys = judged.select("activation", "layer").unique(maintain_order=True)
    for activation, layer in keys.iter_rows():
        of = means.filter(
            (pl.col("activation") == activation)
            & (pl.col("layer").is_null() if layer is None else pl.col("layer") == layer)
        )
        widths = np.sort(of["width"].unique().to_numpy())
        seeds = of["seed"].n_unique()
        y = of.sort(["seed", "width"])["value"].to_numpy().reshape(seeds, len(widths))
        finite = bool(np.all(np.isfinite(y)))
        slope, se, df = (
            blocked_slope(y, np.log(widths.astype(np.float64)))
            if finite
            else (float("nan"), float("nan"), 0)
        )
        rows.append(
            {"activation": activation, "layer": layer, "n_seeds": seeds}
            | {"slope": slope, "se": se, "df": df, "finite": finite}
        )
    return pl.DataFrame(
        rows,
        schema={
            "activation": pl.String,
            "layer": pl.Int64,
            "n_seeds": pl.Int64,
            "slope": pl.Float64,
            "se": pl.Float64,
            "df": pl.Int64,
            "finite": pl.Boolean,
        },
    )


def coord_check(
    table: pl.DataFrame,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    alpha: float = 0.05,
    first_step: int = 1,
    looks: int = 1,
    order: Sequence[str] = (),
) -> CoordCheckResult:
    """Width exponents with their intervals, and the PASS / FAIL / INCONCLUSIVE verdict
    (module docstring).

    Args:
        table: the records (see :func:`per_seed_slopes`); rows whose activation is not a tapped
            activation (e.g. "loss") should be filtered out by the caller.
        tolerance: the largest |exponent| that passes.
        alpha: the bound on each wrong verdict's probability (a wrong PASS, a wrong FAIL).
        first_step: the first step judged.
        looks: how many times the caller may look at the data (adding seeds in between); the
            error rates are split over them.
        order: activations in display order (others follow in order of appearance).

    Returns:
        The :class:`CoordCheckResult`.
    """
    exponents = width_exponents(table, first_step=first_step)
    count = max(len(exponents), 1)
    alpha_pass = alpha / looks
    alpha_fail = alpha / (looks * count)
    slope = exponents["slope"].to_numpy()
    se = exponents["se"].to_numpy()
    df = exponents["df"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore"):
        t_pass = t_quantile(1.0 - alpha_pass, np.maximum(df, 1.0))
        t_fail = t_quantile(1.0 - alpha_fail, np.maximum(df, 1.0))
        low, high = slope - t_pass * se, slope + t_pass * se
        fail_low, fail_high = slope - t_fail * se, slope + t_fail * se
    finite = exponents["finite"].to_numpy() & np.isfinite(se)
    # NaN bounds (no residual df) compare False: never within, never beyond the tolerance.
    within = (low >= -tolerance) & (high <= tolerance)
    status = np.where(
        ~exponents["finite"].to_numpy(),
        "not finite",
        np.where(
            finite & (fail_low > tolerance),
            "grows",
            np.where(
                finite & (fail_high < -tolerance),
                "shrinks",
                np.where(finite & within, "ok", "uncertain"),
            ),
        ),
    )
    slopes = _step_slopes(table)
    worst = _worst_steps(slopes, first_step)
    names = _activation_order(exponents["activation"], order)
    rank = {name: i for i, name in enumerate(names)}
    exponents = (
        exponents.drop("finite")
        .with_columns(
            pl.Series("ci_low", low),
            pl.Series("ci_high", high),
            pl.Series("fail_low", fail_low),
            pl.Series("fail_high", fail_high),
            pl.Series("status", status.astype(str)),
        )
        .join(worst, on=["activation", "layer"], how="left", nulls_equal=True)
        .with_columns(
            pl.col("activation").replace_strict(rank, return_dtype=pl.Int64).alias("_order")
        )
        .sort(["_order", "layer"], nulls_last=False)
        .drop("_order")
    )
    slopes = (
        slopes.with_columns(
            pl.col("activation").replace_strict(rank, return_dtype=pl.Int64).alias("_order")
        )
        .sort(["_order", "layer", "step"], nulls_last=False)
        .drop("_order")
    )
    failures = tuple(_failure_lines(exponents))
    uncertain = tuple(_uncertain_lines(exponents))
    verdict = FAIL if failures else (INCONCLUSIVE if uncertain else PASS)
    return CoordCheckResult(
        verdict=verdict,
        tolerance=tolerance,
        alpha=alpha,
        looks=looks,
        first_step=first_step,
        exponents=exponents,
        slopes=slopes,
        failures=failures,
        uncertain=uncertain,
    )


def seeds_to_decide(
    result: CoordCheckResult,
    *,
    looks_for: Callable[[int], int],
    power: float = 0.8,
    max_seeds: int = 10_000,
) -> int | None:
    """About how many seeds an INCONCLUSIVE check needs to decide every uncertain activation
    with probability ``power``, were the true exponents the ones measured now.

    Each uncertain (activation, layer) is a one-sided test of its margin to the tolerance
    (``tolerance − |exponent|`` to pass, at ``alpha / looks``; ``|exponent| − tolerance`` to
    fail, at ``alpha / (looks · M)``), whose standard error shrinks as 1/√seeds: the per-seed sd
    of its slope is ``se · √n``. :func:`analysis.power.seeds_needed` answers for one test (a
    two-sided test at twice the level has the same critical value; its ``n − 1`` degrees of
    freedom, fewer than the regression's ``n·(W − 1) − 1``, err towards more seeds). The looks
    depend on the seeds (``looks_for``), so the answer is iterated until it settles.

    Args:
        result: a check's result.
        looks_for: the number of looks a check with that many seeds takes
            (``len(look_schedule(first, seeds, per_look))``).
        power: the probability of a decision to plan for.
        max_seeds: more than this is no answer.

    Returns:
        The most seeds any uncertain activation needs; None when none is uncertain, or one
        sits at the tolerance (or has no standard error): then no practical number of seeds
        decides it.
    """
    uncertain = result.exponents.filter(pl.col("status") == "uncertain")
    if uncertain.is_empty():
        return None
    count = max(len(result.exponents), 1)
    most = 0
    for row in uncertain.iter_rows(named=True):
        margin = result.tolerance - abs(row["slope"])
        sd = row["se"] * np.sqrt(row["n_seeds"])
        seeds = int(row["n_seeds"])
        for _ in range(5):  # the looks, hence the level, depend on the seeds: settle them
            looks = looks_for(seeds)
            level = result.alpha / looks if margin > 0 else result.alpha / (looks * count)
            needed = int(
                seeds_needed(abs(margin), sd, alpha=2 * level, power=power, max_n=max_seeds)
            )
            if needed < 0:
                return None
            needed = max(needed, int(row["n_seeds"]) + 1)
            if needed == seeds:
                break
            seeds = needed
        most = max(most, seeds)
    return most


def _step_slopes(table: pl.DataFrame) -> pl.DataFrame:
    """Per (activation, layer, step), the mean over seeds of the per-seed slope."""
    return (
        per_seed_slopes(table)
        .group_by(["activation", "layer", "step"], maintain_order=True)
        .agg(pl.col("slope").mean())
    )


def _worst_steps(slopes: pl.DataFrame, first_step: int) -> pl.DataFrame:
    """Per (activation, layer), the judged step whose slope is farthest from 0."""
    judged = slopes.filter((pl.col("step") >= first_step) & pl.col("slope").is_finite())
    return (
        judged.sort(pl.col("slope").abs(), descending=True)
        .group_by(["activation", "layer"], maintain_order=True)
        .first()
        .select(
            "activation",
            "layer",
            pl.col("step").alias("worst_step"),
            pl.col("slope").alias("worst_step_slope"),
        )
    )


def _activation_order(names: pl.Series, order: Sequence[str]) -> list[str]:
    """``order`` first, then any other activation in order of first appearance."""
    known = [name for name in order]
    return known + [name for name in names.unique(maintain_order=True) if name not in known]


def _where(row: dict) -> str:
    layer = row["layer"]
    return row["activation"] if layer is None else f"{row['activation']} (layer {layer})"


def _worst(row: dict) -> str:
    if row["worst_step"] is None:
        return ""
    return f"; steepest at step {row['worst_step']} ({row['worst_step_slope']:+.2f})"


def _failure_lines(exponents: pl.DataFrame) -> list[str]:
    """One line per failing (activation, layer): direction, exponent, bound and worst step."""
    lines = []
    for row in exponents.filter(pl.col("status").is_in(FAILING)).iter_rows(named=True):
        if row["status"] == "not finite":
            lines.append(f"{_where(row)}: a value is not finite (or is zero)")
            continue
        bound = row["fail_low"] if row["status"] == "grows" else row["fail_high"]
        lines.append(
            f"{_where(row)} {row['status']} with width: exponent {row['slope']:+.2f} "
            f"(bound {bound:+.2f}){_worst(row)}"
        )
    return lines


def _uncertain_lines(exponents: pl.DataFrame) -> list[str]:
    """One line per uncertain (activation, layer): its exponent and interval."""
    lines = []
    for row in exponents.filter(pl.col("status") == "uncertain").iter_rows(named=True):
        interval = (
            "no interval (one seed?)"
            if not np.isfinite(row["se"])
            else f"interval [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]"
        )
        lines.append(
            f"{_where(row)} not shown within tolerance: exponent {row['slope']:+.2f}, "
            f"{interval}{_worst(row)}"
        )
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
