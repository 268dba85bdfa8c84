"""Group-sequential designs with error spending, for comparisons with a seed budget (issue 24).

When every comparison has a budget of N seeds, the looks can be planned: after every seed (or
every k seeds) up to N. A group-sequential design spends the error α over those looks with a
spending function α(t) of the information fraction t = n / N (Lan & DeMets 1983): at look k
the two-sided z-boundary c_k is the value at which the probability, under the null, of
crossing at look k and at no earlier look equals α(t_k) − α(t_{k−1}). Because the boundary
at a look depends only on the fractions reached so far, looks may happen at other counts than
planned: the spending function is evaluated at the information actually reached (Lan-DeMets).
The crossing probabilities are computed by numerical integration of the Brownian-motion
recursion (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).

Seeds are few and the noise sd is estimated. Using the z-boundaries through their nominal
levels — reject when the paired t-test's p-value at n − 1 df is at most 2(1 − Φ(c_k)), the
"significance level approach" (Jennison & Turnbull 2000, ch. 11) — overshoots α at a handful
of seeds, so :func:`t_boundaries` sets the boundaries on the
t-statistics themselves; the error is checked by simulation (docs/sequential.md,
benchmarks/sequential_savings.py).

Futility is non-binding: the efficacy boundaries ignore it, so α holds whether or not a
futility stop is obeyed. A comparison stops for futility when an effect of ``margin`` (in
either direction) is ruled out: a one-sided group-sequential test of |μ| = margin at the
futility level, spent with its own function, rejects (|mean| + q_k·se < margin).

Multiplicity: each of the m comparisons starts with α/m (Bonferroni, valid whatever the
dependence through the shared baseline). When efficacy is the only claim (no stated margin,
so a futility stop claims nothing), a rejected comparison's level is passed on equally to the
others — Holm's procedure in the graphical form of Maurer & Bretz (2013): with r comparisons
rejected, the others are tested at α/(m − r) with the boundaries of the same spending
function re-evaluated at that level at every look reached so far. It is the shortcut of a
closed test whose local test of any k true nulls is the weighted Bonferroni group-sequential
test at α/k, so the family-wise error stays ≤ α under any stopping (:func:`holm_rejections`).
With a stated margin a futility stop is an "equivalent" claim with error α/m of its own, and
a comparison that rejected efficacy can still not be removed from the closed test through
its equivalence hypothesis, so its level is not passed on (Bonferroni).

Everything here is a pure function of arrays; the only random numbers are those of the
t-boundaries' simulated null paths, from a generator with a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import special

from analysis.distributions import t_quantile
from analysis.verdict import Direction, improvement

__all__ = [
    "DEFAULT_SPENDING",
    "SPENDING_FUNCTIONS",
    "GroupSequentialDesign",
    "LookBoundaries",
    "OperatingCharacteristics",
    "classical_constant",
    "design_boundaries",
    "holm_rejections",
    "information_fractions",
    "operating_characteristics",
    "planned_looks",
    "simulate_decisions",
    "spent",
    "z_boundaries",
]

Spending = Literal["obrien-fleming", "pocock", "hsd", "power"]
Multiplicity = Literal["holm", "bonferroni"]
SPENDING_FUNCTIONS: tuple[str, ...] = ("obrien-fleming", "pocock", "hsd", "power")

#: The default spending function and its parameter: chosen by simulation
#: (benchmarks/sequential_savings.py, docs/sequential.md "Choosing the spending function").
DEFAULT_SPENDING: tuple[Spending, float | None] = ("hsd", -4.0)

#: β_f against the default margin: a futility stop there claims nothing, it saves seeds that
#: would rarely decide (chosen by simulation, docs/sequential.md).
DEFAULT_FUTILITY_LEVEL = 0.2

#: Grid points per sd of the smallest increment between two looks in the integration; at 12
#: the K = 5 O'Brien-Fleming-type boundaries match published values to 4 decimals.
_POINTS_PER_SD = 12
#: Beyond this many sd of the null's spread a path's probability is below 1e-15.
_TAIL_SD = 8.5


# --------------------------------------------------------------------------- spending


def spent(
    fraction: np.ndarray | float,
    alpha: float,
    *,
    function: Spending,
    parameter: float | None = None,
    sides: int = 2,
) -> np.ndarray:
    """Cumulative error spent by information fraction t: α(t), with α(0) = 0 and α(1) = α.

    - ``obrien-fleming``: Lan-DeMets O'Brien-Fleming type; per side (a = α / ``sides``)
      2 − 2Φ(z_{1−a/2} / √t), the convention of gsDesign's ``sfLDOF`` and rpact's ``asOF``.
    - ``pocock``: Lan-DeMets Pocock type, α·ln(1 + (e − 1)t).
    - ``hsd``: Hwang, Shih & DeCani (1990), α(1 − e^{−γt}) / (1 − e^{−γ}); γ = ``parameter``
      (γ = −4 is close to O'Brien-Fleming, γ = 1 to Pocock; γ = 0 spends linearly).
    - ``power``: Kim & DeMets (1987), α·t^ρ; ρ = ``parameter`` > 0.

    Args:
        fraction: information fraction(s) t; values above 1 count as 1.
        alpha: total error to spend (two-sided for a two-sided design).
        function: the family.
        parameter: γ for ``hsd``, ρ for ``power``; unused otherwise.
        sides: 2 when α is split between two tails (matters only for ``obrien-fleming``).

    Returns:
        α(t), shaped like ``fraction``.
    """
    t = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    if function == "obrien-fleming":
        per_side = alpha / sides
        with np.errstate(divide="ignore"):
            z = float(special.ndtri(1.0 - per_side / 2.0)) / np.sqrt(t)
        return np.where(t > 0, sides * (2.0 - 2.0 * special.ndtr(z)), 0.0)
    if function == "pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if function == "hsd":
        gamma = _parameter(function, parameter)
        if gamma == 0.0:
            return alpha * t
        return alpha * (-np.expm1(-gamma * t)) / (-math.expm1(-gamma))
    if function == "power":
        rho = _parameter(function, parameter)
        if rho <= 0:
            raise ValueError(f"the power spending function needs rho > 0, got {rho}")
        return alpha * t**rho
    raise ValueError(f"unknown spending function {function!r} (known: {SPENDING_FUNCTIONS})")


def _parameter(function: str, parameter: float | None) -> float:
    if parameter is None:
        raise ValueError(f"the {function} spending function needs a parameter")
    return float(parameter)


# --------------------------------------------------------------------------- boundaries


def z_boundaries(
    fractions: Sequence[float] | np.ndarray,
    increments: Sequence[float] | np.ndarray,
    *,
    sides: int = 2,
) -> np.ndarray:
    """z-boundaries c_k with P0(first crossing at look k) = ``increments[k]``.

    Under the null the z-statistics of the looks are those of a Brownian motion B at the
    information fractions: Z_k = B(t_k) / √t_k. A path crosses at look k when |Z_k| ≥ c_k
    (``sides`` = 2) or Z_k ≥ c_k (``sides`` = 1). The density of the paths still running is
    carried on a grid and integrated with Simpson's rule (Jennison & Turnbull 2000, ch. 19).

    Args:
        fractions: strictly increasing information fractions in (0, 1].
        increments: error to spend at each look (≥ 0); 0 gives c_k = inf.
        sides: 2 for |Z| ≥ c, 1 for Z ≥ c.

    Returns:
        c_k per look (inf where nothing is spent).
    """
    t = np.asarray(fractions, dtype=float)
    spend = np.asarray(increments, dtype=float)
    if t.ndim != 1 or t.shape != spend.shape:
        raise ValueError("fractions and increments must be 1-D of the same length")
    if t.size == 0:
        return np.zeros(0)
    if np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError(f"information fractions must be positive and increasing, got {t}")
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    paths = _RunningPaths(_grid_step(t), sides=sides)
    bounds = np.empty(t.size)
    for k in range(t.size):
        bounds[k] = _solve_bound(lambda c, k=k: paths.exit_probability(float(t[k]), c), spend[k])
        paths.advance(t[k], bounds[k])
    return bounds


def _solve_bound(exit_prob: Any, target: float) -> float:
    """The c with exit_prob(c) = target (exit_prob decreases in c); inf for target ≤ 0."""
    from scipy.optimize import brentq

    if target <= 1e-15:
        return math.inf
    low, high = 0.0, 40.0
    if exit_prob(low) <= target:
        return 0.0  # everything left may be spent here
    return float(brentq(lambda c: exit_prob(c) - target, low, high, xtol=1e-10))


def classical_constant(k_looks: int, alpha: float, *, shape: Literal["pocock", "obrien-fleming"]):
    """The constant C of a classical (not spending-function) design with K equal looks.

    Pocock: c_k = C at every look; O'Brien-Fleming: c_k = C·√(K/k). C makes the two-sided
    error α. Used to check the integration against Jennison & Turnbull's Tables 2.1 and 2.3.
    """
    from scipy.optimize import brentq

    fractions = np.arange(1, k_looks + 1) / k_looks
    scale = np.ones(k_looks) if shape == "pocock" else np.sqrt(k_looks / np.arange(1, k_looks + 1))

    def error(constant: float) -> float:
        return float(_crossing_probabilities(fractions, constant * scale).sum()) - alpha

    return float(brentq(error, 1.0, 6.0, xtol=1e-10))


def _crossing_probabilities(fractions: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """P0(first crossing of |Z| ≥ bounds at each look), by the same integration."""
    paths = _RunningPaths(_grid_step(fractions), sides=2)
    probabilities = np.empty(len(bounds))
    for k, (t_k, c_k) in enumerate(zip(fractions, bounds, strict=True)):
        probabilities[k] = paths.exit_probability(t_k, c_k)
        paths.advance(t_k, c_k)
    return probabilities


def _grid_step(fractions: np.ndarray) -> float:
    """Grid spacing: a fraction of the sd of the smallest step of the Brownian motion."""
    smallest = min(fractions[0], float(np.diff(fractions).min(initial=fractions[0])))
    return math.sqrt(smallest) / _POINTS_PER_SD


class _RunningPaths:
    """The null density of B(t) over the paths that have crossed no boundary yet, on a grid
    (times Simpson weights), advanced look by look."""

    def __init__(self, step: float, *, sides: int) -> None:
        self.step, self.sides = step, sides
        self.time = 0.0
        self.grid: np.ndarray | None = None
        self.weights: np.ndarray | None = None

    def exit_probability(self, time: float, bound: float) -> float:
        """P0(Z = B(time)/√time crosses ``bound`` now, having crossed nothing before)."""
        level = bound * math.sqrt(time)
        if self.grid is None or self.weights is None:
            tail = float(special.ndtr(-bound))
            return self.sides * tail
        delta = math.sqrt(time - self.time)
        outside = special.ndtr((self.grid - level) / delta)
        if self.sides == 2:
            outside = outside + special.ndtr((-level - self.grid) / delta)
        return float(np.dot(self.weights, outside))

    def advance(self, time: float, bound: float) -> None:
        """Keep the paths inside the boundary at ``time``: the density of B(time) there."""
        sd = math.sqrt(time)
        high = min(bound * sd, _TAIL_SD * sd)
        low = -high if self.sides == 2 else -_TAIL_SD * sd
        points = max(math.ceil((high - low) / self.step) // 2 * 2 + 1, 51)
        grid = np.linspace(low, high, points)
        if self.grid is None or self.weights is None:
            density = np.exp(-0.5 * (grid / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        else:
            delta = math.sqrt(time - self.time)
            kernel = np.exp(-0.5 * ((grid[:, None] - self.grid[None, :]) / delta) ** 2)
            density = kernel @ self.weights / (delta * math.sqrt(2 * math.pi))
        simpson = np.ones(points)
        simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
        self.grid, self.weights = grid, density * simpson * (grid[1] - grid[0]) / 3.0
        self.time = time


# --------------------------------------------------------------------------- t-boundaries

#: Paths of the null t-statistic simulated to set t-boundaries; the generator is seeded with
#: CALIBRATION_SEED, so the same looks always give the same boundaries (runner and compare).
CALIBRATION_PATHS = 2**18
CALIBRATION_SEED = 20261126
#: Below this many expected crossings on the simulated paths a look's boundary is the
#: z-boundary's nominal level at the look's df instead (its tail is too thin to simulate).
_MIN_CROSSINGS = 40


def t_boundaries(
    seeds: Sequence[int] | np.ndarray,
    increments: Sequence[float] | np.ndarray,
    z_bounds: Sequence[float] | np.ndarray,
    *,
    sides: int = 2,
    paths: int = CALIBRATION_PATHS,
) -> np.ndarray:
    """Boundaries on the t-statistics of looks at ``seeds`` that spend ``increments`` exactly.

    The paired t-statistics T_n = mean / (sd/√n) of i.i.d. normal differences have a null
    distribution free of σ, but with σ estimated they are less correlated across looks than
    the z-statistics the integration assumes: converting each z-boundary to the t quantile of
    the same nominal level keeps every look's own error right yet lets the total exceed α
    (0.060 at α = 0.05 with a look after each of 10 seeds). So the boundaries are set on the
    t-statistics themselves: at look k, b_k is the value that the null paths still running
    cross (|T| ≥ b_k, or T ≥ b_k one-sided) with probability ``increments[k]``, estimated
    on ``paths`` simulated paths from a fixed generator. Where fewer than 40 crossings would
    be expected the look uses the nominal level of ``z_bounds[k]`` at its df instead.

    Args:
        seeds: seeds (paired differences) at each look, increasing, each ≥ 2.
        increments: error to spend at each look.
        z_bounds: the z-boundaries of the same design (:func:`z_boundaries`).
        sides: 2 for |T| ≥ b, 1 for T ≥ b.
        paths: simulated null paths.

    Returns:
        b_k per look (inf where nothing is spent).
    """
    n = np.asarray(seeds, dtype=int)
    spend = np.asarray(increments, dtype=float)
    z = np.asarray(z_bounds, dtype=float)
    if n.size and (n[0] < 2 or np.any(np.diff(n) <= 0)):
        raise ValueError(f"looks must be at increasing seed counts >= 2, got {n.tolist()}")
    return _t_boundaries(tuple(n.tolist()), tuple(spend.tolist()), tuple(z.tolist()), sides, paths)


@lru_cache(maxsize=256)
def _t_boundaries(
    seeds: tuple[int, ...],
    increments: tuple[float, ...],
    z_bounds: tuple[float, ...],
    sides: int,
    paths: int,
) -> np.ndarray:
    rng = np.random.default_rng(CALIBRATION_SEED)
    shift = None  # first observation: sums of shifted values keep the variance accurate
    total = np.zeros(paths)
    squares = np.zeros(paths)
    alive = np.ones(paths, dtype=bool)
    bounds = np.full(len(seeds), math.inf)
    look = 0
    for count in range(1, (seeds[-1] if seeds else 0) + 1):
        x = rng.standard_normal(paths)
        if shift is None:
            shift = x
        y = x - shift
        total += y
        squares += y * y
        if count != seeds[look]:
            continue
        mean = total / count
        sd = np.sqrt(np.maximum(squares - count * mean * mean, 0.0) / (count - 1))
        stat = (mean + shift) / (sd / math.sqrt(count))
        if sides == 2:
            stat = np.abs(stat)
        target = increments[look] * paths
        if target < _MIN_CROSSINGS:
            nominal = float(special.ndtr(-z_bounds[look]))  # one tail
            bound = float(t_quantile(1.0 - nominal, count - 1)) if nominal > 0 else math.inf
        else:
            running = stat[alive]
            rank = round(target)
            if rank >= running.size:
                bound = 0.0
            else:
                # The boundary sits between the rank-th and (rank+1)-th largest statistic.
                top = np.partition(running, running.size - rank - 1)[running.size - rank - 1 :]
                bound = float(np.nextafter(np.sort(top)[0], math.inf))
        bounds[look] = bound
        alive &= ~(stat >= bound)
        look += 1
        if look == len(seeds):
            break
    return bounds


# --------------------------------------------------------------------------- the design


@dataclass(frozen=True, kw_only=True)
class GroupSequentialDesign:
    """A group-sequential design for m comparisons with a budget of ``max_seeds`` seeds each.

    Attributes:
        max_seeds: the budget N; the information fraction of a look at n seeds is n / N.
        alpha: family-wise error; each comparison's efficacy boundaries spend alpha / m.
        comparisons: m, the number of comparisons sharing alpha.
        multiplicity: ``holm`` passes a rejected comparison's level on to the others
            (graphical Holm, Maurer & Bretz 2013) when no margin is stated; ``bonferroni``
            keeps alpha / m each. With a stated margin it is always Bonferroni (module
            docstring). Records written before this option read as ``bonferroni``.
        spending, spending_parameter: the efficacy spending function (two-sided).
        futility_level: β_f, the chance of a futility stop when the effect is exactly
            ``margin`` (one-sided test of |μ| = margin, spent with ``futility_spending``).
            None (the default) resolves to alpha / m when a margin is given, so that a
            futility stop is an "equivalent" verdict with the family's error, and to
            DEFAULT_FUTILITY_LEVEL against the default margin, where it only stops.
        futility: False for no futility boundary.
        futility_spending, futility_parameter: the futility spending function.
        margin: the minimal effect of interest in metric units; None for the default: the
            effect a fixed N-seed paired t-test at level alpha / m detects with 80 % power, in
            units of the sd of the paired differences estimated at the look.
        look_every: planned looks every this many seeds (the last at N).
    """

    max_seeds: int
    alpha: float = 0.05
    comparisons: int = 1
    spending: Spending = DEFAULT_SPENDING[0]
    spending_parameter: float | None = DEFAULT_SPENDING[1]
    futility_level: float | None = None
    futility: bool = True
    futility_spending: Spending = "hsd"
    futility_parameter: float | None = 0.0
    margin: float | None = None
    look_every: int = 1
    multiplicity: Multiplicity = "holm"

    def __post_init__(self) -> None:
        if self.max_seeds < 2:
            raise ValueError(f"max_seeds must be >= 2, got {self.max_seeds}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.comparisons < 1:
            raise ValueError("comparisons must be >= 1")
        if self.futility_level is not None and not 0.0 < self.futility_level < 1.0:
            raise ValueError(f"futility_level must be in (0, 1), got {self.futility_level}")
        if self.margin is not None and not self.margin > 0.0:
            raise ValueError(f"margin must be > 0, got {self.margin}")
        if self.look_every < 1:
            raise ValueError("look_every must be >= 1")
        if self.multiplicity not in ("holm", "bonferroni"):
            raise ValueError(f"multiplicity must be holm or bonferroni, got {self.multiplicity!r}")
        for function in (self.spending, self.futility_spending):
            if function not in SPENDING_FUNCTIONS:
                raise ValueError(f"unknown spending function {function!r}")

    @property
    def futility_error(self) -> float | None:
        """The futility level in use (see ``futility_level``); None without futility."""
        if not self.futility:
            return None
        if self.futility_level is not None:
            return self.futility_level
        return self.level if self.margin is not None else DEFAULT_FUTILITY_LEVEL

    @property
    def level(self) -> float:
        """Each comparison's two-sided efficacy level before any rejection, alpha / m."""
        return self.alpha / self.comparisons

    @property
    def recycles(self) -> bool:
        """Whether a rejected comparison's level is passed on (Holm, no stated margin)."""
        return self.multiplicity == "holm" and self.margin is None and self.comparisons > 1

    def level_after(self, rejected_others: int) -> float:
        """A comparison's efficacy level once ``rejected_others`` other comparisons have been
        rejected: alpha / (m − r) when the design recycles, else alpha / m."""
        if not self.recycles:
            return self.level
        return self.alpha / (self.comparisons - min(rejected_others, self.comparisons - 1))

    def default_effect(self) -> float:
        """The standardized effect (|μ| / sd) a fixed N-seed two-sided paired t-test at level
        alpha / m detects with 80 % power: the default minimal effect of interest."""
        from analysis.power import minimum_detectable_effect

        return minimum_detectable_effect(
            1.0, self.max_seeds, alpha=self.level, power=0.8, paired=True
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_seeds": self.max_seeds,
            "alpha": self.alpha,
            "comparisons": self.comparisons,
            "spending": self.spending,
            "spending_parameter": self.spending_parameter,
            "futility_level": self.futility_error,
            "futility": self.futility,
            "futility_spending": self.futility_spending,
            "futility_parameter": self.futility_parameter,
            "margin": self.margin,
            "look_every": self.look_every,
            "multiplicity": self.multiplicity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupSequentialDesign:
        fields = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        # records written before Holm recycling existed were decided with Bonferroni
        fields.setdefault("multiplicity", "bonferroni")
        return cls(**fields)


def planned_looks(design: GroupSequentialDesign, *, first: int = 2) -> tuple[int, ...]:
    """The planned looks: at ``first`` seeds (at least 2), then every ``look_every``, and at N."""
    start = max(first, 2)
    looks = list(range(start, design.max_seeds + 1, design.look_every))
    if not looks or looks[-1] != design.max_seeds:
        looks.append(design.max_seeds)
    return tuple(n for n in looks if n <= design.max_seeds)


def looks_within_budget(design: GroupSequentialDesign, seeds: Sequence[int]) -> tuple[int, ...]:
    """The looks that belong to the design: those at no more than N seeds (it spends
    everything by N)."""
    return tuple(int(n) for n in seeds if n <= design.max_seeds)


def information_fractions(seeds: Sequence[int], max_seeds: int) -> np.ndarray:
    """n / N for each look."""
    return np.asarray(seeds, dtype=float) / max_seeds


@dataclass(frozen=True, kw_only=True)
class LookBoundaries:
    """The boundaries of a design at the looks actually taken (or planned).

    Attributes:
        seeds: paired seeds at each look.
        fractions: information fractions n / N.
        alpha_spent: cumulative efficacy error spent by each look (per comparison).
        z_efficacy: the z-boundaries of the spending function (normal theory).
        t_efficacy: the boundaries used on |t| (n − 1 df), which spend the same error for
            the t-statistic (:func:`t_boundaries`).
        t_futility: q_k of the futility rule |mean| + q_k·se < margin (inf: no futility).
        default_effect: the default margin in sd units (None when a margin is given).
    """

    seeds: tuple[int, ...]
    fractions: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    z_efficacy: tuple[float, ...]
    t_efficacy: tuple[float, ...]
    t_futility: tuple[float, ...]
    default_effect: float | None

    def to_dict(self) -> dict[str, Any]:
        def clean(values: tuple[float, ...]) -> list[float | None]:
            return [v if math.isfinite(v) else None for v in values]

        return {
            "seeds": list(self.seeds),
            "fractions": list(self.fractions),
            "alpha_spent": list(self.alpha_spent),
            "z_efficacy": clean(self.z_efficacy),
            "t_efficacy": clean(self.t_efficacy),
            "t_futility": clean(self.t_futility),
            "default_effect": self.default_effect,
        }


def design_boundaries(
    design: GroupSequentialDesign, seeds: Sequence[int], *, level: float | None = None
) -> LookBoundaries:
    """Boundaries of ``design`` at looks after ``seeds`` paired seeds.

    Looks past the budget N are dropped (the design spends everything by N).

    Args:
        design: the design.
        seeds: seed counts of the looks, increasing, each ≥ 2.
        level: the comparison's efficacy level; default alpha / m.

    Returns:
        The per-look boundaries.
    """
    looks = looks_within_budget(design, seeds)
    fractions = information_fractions(looks, design.max_seeds)
    level = design.level if level is None else level
    cumulative = spent(
        fractions, level, function=design.spending, parameter=design.spending_parameter
    )
    increments = np.diff(cumulative, prepend=0.0)
    z = z_boundaries(fractions, increments) if looks else np.zeros(0)
    t = t_boundaries(looks, increments, z) if looks else np.zeros(0)
    if design.futility_error is None or not looks:
        futility = np.full(len(looks), math.inf)
    else:
        beta = spent(
            fractions,
            design.futility_error,
            function=design.futility_spending,
            parameter=design.futility_parameter,
            sides=1,
        )
        beta_increments = np.diff(beta, prepend=0.0)
        z_f = z_boundaries(fractions, beta_increments, sides=1)
        futility = t_boundaries(looks, beta_increments, z_f, sides=1)
    return LookBoundaries(
        seeds=looks,
        fractions=tuple(float(f) for f in fractions),
        alpha_spent=tuple(float(a) for a in cumulative),
        z_efficacy=tuple(float(v) for v in z),
        t_efficacy=tuple(float(v) for v in t),
        t_futility=tuple(float(v) for v in futility),
        default_effect=design.default_effect() if design.margin is None else None,
    )


#: Codes of :func:`decision_codes`.
UNDECIDED, EFFICACY_BETTER, EFFICACY_WORSE, FUTILITY = 0, 1, 2, 3


def decision_codes(
    mean: np.ndarray,
    sd: np.ndarray,
    bounds: LookBoundaries,
    *,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    measured: np.ndarray | None = None,
) -> np.ndarray:
    """Sticky decision codes at each look (vectorised over leading axes).

    At look k with n seeds, t = mean / (sd/√n): efficacy when |t| ≥ t_efficacy[k] (the sign
    says better or worse), else futility when |mean| + t_futility[k]·se < the margin (metric
    units; ``margin`` None uses ``bounds.default_effect`` × sd). The first decision is kept.

    Args:
        mean, sd: per look, shape (..., K) for the K looks of ``bounds``.
        bounds: from :func:`design_boundaries`.
        margin: the minimal effect of interest in metric units, or None for the default.
        direction: which sign of the difference is better.
        measured: per look, whether the noise is measured (looks where not decide nothing).

    Returns:
        int8 codes (UNDECIDED, EFFICACY_BETTER, EFFICACY_WORSE, FUTILITY), shape (..., K).
    """
    n = np.asarray(bounds.seeds, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sd / np.sqrt(n)
        t = np.where(mean == 0.0, 0.0, mean / se)
    ok = np.isfinite(se) & (se > 0) if measured is None else np.asarray(measured) & (se > 0)
    efficacy = ok & (np.abs(t) >= np.asarray(bounds.t_efficacy))
    if margin is None:
        effect = bounds.default_effect or 0.0
        limit = effect * sd
    else:
        limit = np.full(mean.shape, margin)
    futile = ok & (np.abs(mean) + np.asarray(bounds.t_futility) * se < limit)
    good = improvement(mean, direction) > 0
    now = np.where(
        efficacy, np.where(good, EFFICACY_BETTER, EFFICACY_WORSE), np.where(futile, FUTILITY, 0)
    )
    if now.shape[-1] == 0:
        return now.astype(np.int8)
    decided = now > 0
    first = np.argmax(decided, axis=-1)[..., None]
    ever = np.any(decided, axis=-1, keepdims=True)
    code_at_first = np.take_along_axis(now, first, axis=-1)
    looks = np.arange(now.shape[-1])
    return np.where(ever & (looks >= first), code_at_first, 0).astype(np.int8)


def holm_rejections(
    efficacy_look: np.ndarray,
    futility_look: np.ndarray,
    *,
    k_looks: int,
    upto: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which comparisons Holm's recycling rejects with the looks up to ``upto``.

    The least fixed point of "comparison i is rejected when it crossed the efficacy boundary
    of level alpha / (m − r_i), r_i = the others rejected, at a look before any futility stop
    and at or before ``upto``". Levels only grow with rejections and boundaries only fall with
    levels, so iterating from r = 0 reaches it in at most m rounds. Crossings at looks before
    the level rose count (the closed test's local tests use every look reached).

    Args:
        efficacy_look: shape (m, ..., m): ``efficacy_look[r, ..., i]`` is the index of the
            first look at which comparison i crosses its efficacy boundary at level
            alpha / (m − r) (``k_looks`` or more where it never does).
        futility_look: shape (..., m): the first futility look index (``k_looks`` or more
            where none; efficacy at the same look wins, as in :func:`decision_codes`).
        k_looks: the number of looks K.
        upto: the latest look index reached; default every look.

    Returns:
        (rejected, r): bool (..., m), and the number of other comparisons rejected (..., m).
    """
    crossing = np.asarray(efficacy_look)
    futile = np.asarray(futility_look)
    m = crossing.shape[0]
    if crossing.shape[1:] != futile.shape or futile.shape[-1] != m:
        raise ValueError("efficacy_look must be (m, ..., m) and futility_look (..., m)")
    limit = np.minimum(futile, k_looks - 1 if upto is None else upto)
    others = np.zeros(futile.shape, dtype=np.int64)
    rejected = np.zeros(futile.shape, dtype=bool)
    for _ in range(m):
        first = np.take_along_axis(crossing, others[None], axis=0)[0]
        rejected = first <= limit
        now = rejected.sum(axis=-1, keepdims=True) - rejected
        if np.array_equal(now, others):
            break
        others = now
    return rejected, others


def simulate_decisions(
    differences: np.ndarray,
    design: GroupSequentialDesign,
    looks: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The design's decisions on simulated paired differences (lower is better), as the runner
    takes them: every comparison looked at after each seed count in ``looks``.

    ``differences`` is (sims, N) for one comparison or (sims, m, N) for m comparisons looked
    at together; with Holm's recycling (``design.recycles``) a comparison's level rises as
    others are rejected, in look order — the runner's rounds.

    Args:
        differences: simulated paired differences, seeds on the last axis (at least the last
            look's count).
        design: the design.
        looks: seed counts of the looks (those past N are dropped, as by
            :func:`design_boundaries`); default :func:`planned_looks`.

    Returns:
        (final code, seeds used, whether efficacy was ever crossed with futility ignored — the
        non-binding error) per simulated comparison.
    """
    from dataclasses import replace

    from analysis.stats import running_mean_sd

    looks = planned_looks(design) if looks is None else looks_within_budget(design, looks)
    k_looks = len(looks)
    mean, sd = running_mean_sd(differences)
    index = np.asarray(looks) - 1
    mean, sd = mean[..., index], sd[..., index]
    several = differences.ndim == 3 and design.recycles
    levels = [design.level_after(r) for r in range(differences.shape[-2] if several else 1)]
    efficacy_codes, first_efficacy = [], []
    for level in levels:
        bounds = design_boundaries(design, looks, level=level)
        only = replace(bounds, t_futility=(math.inf,) * k_looks)
        codes = decision_codes(mean, sd, only, margin=design.margin)
        efficacy_codes.append(codes)
        first_efficacy.append(np.where(codes[..., -1] > 0, np.argmax(codes > 0, axis=-1), k_looks))
    futility_only = replace(bounds, t_efficacy=(math.inf,) * k_looks)
    futile = decision_codes(mean, sd, futility_only, margin=design.margin)
    first_futility = np.where(futile[..., -1] > 0, np.argmax(futile > 0, axis=-1), k_looks)
    if several:
        crossing = np.stack(first_efficacy)
        never = np.full_like(first_futility, k_looks)
        crossed, _ = holm_rejections(crossing, never, k_looks=k_looks)
        rejected, others = holm_rejections(crossing, first_futility, k_looks=k_looks)
        stop = np.full(first_futility.shape, k_looks)
        for k in range(k_looks):  # the round at which each comparison first has a decision
            now, _ = holm_rejections(crossing, first_futility, k_looks=k_looks, upto=k)
            stop = np.where((stop == k_looks) & (now | (first_futility <= k)), k, stop)
        level_index = others
    else:
        crossed = first_efficacy[0] < k_looks
        rejected = (first_efficacy[0] < k_looks) & (first_efficacy[0] <= first_futility)
        stop = np.minimum(first_efficacy[0], first_futility)
        level_index = np.zeros(first_futility.shape, dtype=int)
    codes_final = np.stack(efficacy_codes)[..., -1]  # (levels, ...): sign of the crossing
    sign = np.take_along_axis(codes_final, level_index[None], axis=0)[0]
    final = np.where(rejected, sign, np.where(first_futility < k_looks, FUTILITY, 0))
    used = np.asarray(looks)[np.minimum(stop, k_looks - 1)]
    return final, used, crossed


# --------------------------------------------------------------------------- what to expect


@dataclass(frozen=True, kw_only=True)
class OperatingCharacteristics:
    """What one comparison of a design can expect, simulated before any run.

    Attributes:
        effect: the default minimal effect (|μ| / sd of the paired differences): the effect a
            fixed N-seed t-test at the comparison's level detects with 80 % power.
        power: P(an efficacy stop with the right sign) at that effect, futility obeyed.
        fixed_power: the power of the fixed N-seed paired t-test at the same level (exact).
        seeds_at_effect: mean seeds a comparison uses at that effect.
        seeds_at_null: mean seeds with no effect.
        futility_at_null: P(a futility stop) with no effect.
        simulations: simulated comparisons per figure.
    """

    effect: float
    power: float
    fixed_power: float
    seeds_at_effect: float
    seeds_at_null: float
    futility_at_null: float
    simulations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "power": self.power,
            "fixed_power": self.fixed_power,
            "seeds_at_effect": self.seeds_at_effect,
            "seeds_at_null": self.seeds_at_null,
            "futility_at_null": self.futility_at_null,
            "simulations": self.simulations,
        }


def operating_characteristics(
    design: GroupSequentialDesign,
    seeds: Sequence[int],
    *,
    simulations: int = 20_000,
    seed: int = CALIBRATION_SEED,
) -> OperatingCharacteristics:
    """Power and mean seeds of one comparison at the default effect and with none, simulated
    on normal paired differences with the looks at ``seeds`` (Holm's recycling, which only
    adds power, is left out: each comparison keeps alpha / m).

    Args:
        design: a design without a stated margin (a margin in metric units says nothing about
            the effect in sd units before the seed sd is measured).
        seeds: seed counts of the looks, as for :func:`design_boundaries`.
        simulations: simulated comparisons at each effect.
        seed: the generator's seed: the same design always gives the same figures.

    Returns:
        The figures.
    """
    from analysis.power import paired_t_power

    if design.margin is not None:
        raise ValueError("operating characteristics need the default margin (no stated margin)")
    effect = design.default_effect()
    rng = np.random.default_rng(seed)
    shape = (simulations, design.max_seeds)
    final, used, _ = simulate_decisions(-effect + rng.standard_normal(shape), design, seeds)
    final0, used0, _ = simulate_decisions(rng.standard_normal(shape), design, seeds)
    return OperatingCharacteristics(
        effect=effect,
        power=float(np.mean(final == EFFICACY_BETTER)),
        fixed_power=float(paired_t_power(design.max_seeds, effect, alpha=design.level)),
        seeds_at_effect=float(used.mean()),
        seeds_at_null=float(used0.mean()),
        futility_at_null=float(np.mean(final0 == FUTILITY)),
        simulations=simulations,
    )
