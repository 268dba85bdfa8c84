"""Lost runs on either side (issue 32, item 3): false claims and power of each design.

Simulated two-variant studies, ``seeds`` planned per variant, each run ``N(mean, 1)`` (no
seed effect: the hardest case for a paired design, where a lost run's selection bias is not
diluted by a shared seed effect). Lost runs diverge and leave no value; the study's run
statuses say so and reach the design as ``lost``. Cells:

- **null, baseline loses its worst**: no effect; the baseline's ``lost`` worst (highest-loss)
  runs are lost. Its survivors look better than it is, so "worse" is the false claim the
  worst-case rule must stop (before issue 32 the sequential designs did not ask it).
- **null, variant loses its worst**: the mirror image; "better" is the false claim.
- **effect, baseline loses at random**: the variant is worse by ``effect`` (in run sd) and the
  baseline loses ``lost`` runs at random (uninformative loss): the power to say "worse" with
  the rule, beside the survivors-only power (the same data without run statuses) — the
  rule's cost.
- **effect, variant loses at random**: the variant is better by ``effect``; "better" power.

Designs: the fixed one (``analysis.compare``, paired t-test / seed-blocked model), the
anytime-valid sequential test (``sequential_compare``) and the group-sequential design
(``group_sequential_compare``, default spending and non-binding futility), both with a seed
budget of ``--budget`` (default ``seeds``: the lost runs leave the pairs short of the budget,
an early look; ``--budget 7`` with 10 seeds and 3 lost: the pairs reach it, the final look,
where the one-sided rule used to say "worse" falsely in 11 % of these studies). Every rate
is printed with its Monte-Carlo standard error ``sqrt(p (1 - p) / replicates)``.

The factorial table (``--factorial``): a 2 x 2 (factors A, B) on ``seeds`` seeds, every run
``N(mean, 1)``, A's effect 0 (null) or ``effect``; each cell at one level of A loses its
worst run (null: informative) or a random run (effect). The claim is A's main effect
(``analysis.factorial_values``, seeds as blocks, one Holm family of A, B, A:B).

Usage:
    .venv/bin/python benchmarks/lost_runs_either_side.py [--replicates 2000] [--seed 0]
    .venv/bin/python benchmarks/lost_runs_either_side.py --factorial
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np
import polars as pl

from analysis import compare
from analysis.factorial import factorial_values
from analysis.group_sequential import GroupSequentialDesign
from analysis.group_sequential_report import group_sequential_compare
from analysis.sequential import sequential_compare

Verdicts = Callable[[pl.DataFrame, pl.DataFrame | None], str]


def study(
    rng: np.random.Generator, *, seeds: int, lost: int, effect: float, loser: str, informative: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One study: the results table (finished runs) and the statuses of the lost runs.

    Args:
        effect: the variant's mean minus the baseline's, in run sd (lower loss is better).
        loser: which variant (``base`` or ``v``) loses runs.
        informative: lose that variant's worst runs (else runs at random).
    """
    values = {"base": rng.normal(0.0, 1.0, seeds), "v": rng.normal(effect, 1.0, seeds)}
    gone = (
        np.argsort(values[loser])[-lost:]
        if informative
        else rng.choice(seeds, size=lost, replace=False)
    )
    gone_set = set(int(s) for s in gone)
    rows = [
        {"variant": name, "seed": s, "loss": float(x[s])}
        for name, x in values.items()
        for s in range(seeds)
        if not (name == loser and s in gone_set)
    ]
    statuses = pl.DataFrame(
        {"variant": [loser] * lost, "seed": sorted(gone_set), "status": ["diverged"] * lost},
        schema={"variant": pl.Utf8, "seed": pl.Int64, "status": pl.Utf8},
    )
    return pl.DataFrame(rows), statuses


def designs(budget: int, alpha: float) -> dict[str, Verdicts]:
    """Each design's verdict for ``v`` against ``base``, given the table and the statuses."""
    gs = GroupSequentialDesign(max_seeds=budget, alpha=alpha)

    def fixed(table: pl.DataFrame, lost: pl.DataFrame | None) -> str:
        return str(compare(table, metric="loss", baseline="base", alpha=alpha, lost=lost)
                   .comparisons[0].verdict)  # fmt: skip

    def anytime(table: pl.DataFrame, lost: pl.DataFrame | None) -> str:
        report = sequential_compare(
            table, metric="loss", baseline="base", alpha=alpha, max_seeds=budget, lost=lost
        )
        return str(report.comparisons[0].result.verdict)

    def group_sequential(table: pl.DataFrame, lost: pl.DataFrame | None) -> str:
        report = group_sequential_compare(
            table, metric="loss", baseline="base", design=gs, lost=lost
        )
        return str(report.comparisons[0].result.verdict)

    return {"fixed": fixed, "anytime-valid": anytime, "group-sequential": group_sequential}


def factorial_study(
    rng: np.random.Generator, *, seeds: int, effect: float, loser: int, informative: bool
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """One 2 x 2 study: ``(cells, seeds, y)`` of the finished runs and ``(cells, seeds)`` of
    the lost ones (one per cell at ``A = loser``)."""
    cells = np.array([(a, b) for a in (0, 1) for b in (0, 1)] * seeds)
    seed_of = np.repeat(np.arange(seeds), 4)
    y = rng.normal(0.0, 1.0, cells.shape[0]) + effect * cells[:, 0]
    gone = np.zeros(cells.shape[0], dtype=bool)
    for b in (0, 1):
        at = np.flatnonzero((cells[:, 0] == loser) & (cells[:, 1] == b))
        gone[at[np.argmax(y[at])] if informative else rng.choice(at)] = True
    return (cells[~gone], seed_of[~gone], y[~gone]), (cells[gone], seed_of[gone])


def factorial_rows(args: argparse.Namespace) -> None:
    """The factorial table: A's false claims (null) and power (effect), rule / survivors."""
    n = args.replicates
    factors = {"A": ("0", "1"), "B": ("0", "1")}
    rng = np.random.default_rng(args.seed)

    def verdict(runs: tuple[np.ndarray, ...], lost: tuple[np.ndarray, ...] | None) -> str:
        cells, seeds, y = runs
        result = factorial_values(
            cells, seeds, y, factors=factors, alpha=args.alpha,
            lost_cells=None if lost is None else lost[0],
            lost_seeds=None if lost is None else lost[1],
        )  # fmt: skip
        return str(result.effect("A").verdict)

    print(f"\nfactorial 2 x 2, {args.seeds} seeds, one run lost per cell at one level of A; "
          f"{n} studies per cell\n")  # fmt: skip
    print("| claim (effect) | level losing runs | null, its worst lost: false claim on A, "
          "rule / survivors | effect, at random: correct claim, rule / survivors |")  # fmt: skip
    print("|---|---|---|---|")
    for loser in (1, 0):
        wrong_rule = wrong_survivors = 0
        for _ in range(n):
            runs, lost = factorial_study(rng, seeds=args.seeds, effect=0.0, loser=loser,
                                         informative=True)  # fmt: skip
            wrong_rule += verdict(runs, lost) in ("better", "worse")
            wrong_survivors += verdict(runs, None) in ("better", "worse")
        # The claim's winner loses the runs: A = 1 better (lower) when it is the loser.
        effect, claim = (-args.effect, "better") if loser == 1 else (args.effect, "worse")
        right_rule = right_survivors = 0
        for _ in range(n):
            runs, lost = factorial_study(rng, seeds=args.seeds, effect=effect, loser=loser,
                                         informative=False)  # fmt: skip
            right_rule += verdict(runs, lost) == claim
            right_survivors += verdict(runs, None) == claim
        print(f"| A = 1 {claim} | A = {loser} | {rate(wrong_rule, n)} / "
              f"{rate(wrong_survivors, n)} | {rate(right_rule, n)} / {rate(right_survivors, n)} |",
              flush=True)  # fmt: skip


def rate(hits: int, replicates: int) -> str:
    p = hits / replicates
    return f"{p:.3f} ± {math.sqrt(p * (1 - p) / replicates):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--lost", type=int, default=3)
    parser.add_argument("--budget", type=int, default=None, help="default: --seeds")
    parser.add_argument("--effect", type=float, default=1.5)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--factorial", action="store_true", help="the factorial table only")
    args = parser.parse_args()
    if args.factorial:
        factorial_rows(args)
        return
    budget = args.seeds if args.budget is None else args.budget
    n, every = args.replicates, designs(budget, args.alpha)
    print(
        f"{n} studies per cell; {args.seeds} seeds planned per variant, {args.lost} lost; "
        f"sequential budget {budget} seeds; "
        f"alpha {args.alpha}; effect {args.effect} run sd; rate ± Monte-Carlo se\n"
    )
    print("| design | null, baseline loses its worst: false 'worse' (any claim) | "
          "null, variant loses its worst: false 'better' (any claim) | "
          "effect, baseline loses at random: 'worse' power, rule / survivors only | "
          "effect, variant loses at random: 'better' power, rule / survivors only |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, verdict in every.items():
        rng = np.random.default_rng(args.seed)  # the same studies for every design
        cells = []
        for loser, false_claim in (("base", "worse"), ("v", "better")):
            claims = [
                verdict(*study(rng, seeds=args.seeds, lost=args.lost, effect=0.0, loser=loser,
                               informative=True))
                for _ in range(n)
            ]  # fmt: skip
            wrong = sum(c == false_claim for c in claims)
            any_claim = sum(c in ("better", "worse") for c in claims)
            cells.append(f"{rate(wrong, n)} ({rate(any_claim, n)})")
        for loser, effect, true_claim in (("base", args.effect, "worse"),
                                          ("v", -args.effect, "better")):  # fmt: skip
            with_rule = survivors = 0
            for _ in range(n):
                table, lost = study(rng, seeds=args.seeds, lost=args.lost, effect=effect,
                                    loser=loser, informative=False)  # fmt: skip
                with_rule += verdict(table, lost) == true_claim
                survivors += verdict(table, None) == true_claim
            cells.append(f"{rate(with_rule, n)} / {rate(survivors, n)}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
