"""Lost runs in the curves over training and the sweep trend (issue 32, item 3): false claims
when one side loses its worst runs, with the worst-case rule and on the survivors alone.

Curves (``analysis.compare_over_steps``): two variants with identical curves
``3 + exp(-step / 30) + seed effect (sd --seed-sd, shared by the variants) + run effect
(sd 1, this run's own) + N(0, 0.05²) per step`` at steps 0, 10, ..., 100; ``--seeds``
seeds planned; one side loses its ``--lost`` worst runs (largest run effect: informative
loss). A false claim is any ``separated_from`` (on the side the loss favours: "worse"
when the baseline lost).

Trend (``analysis.sweep_trends``): three sweep points x = 1, 2, 3 with no trend, runs
``seed effect (sd --seed-sd) + N(0, 1)``; the point x = 1 loses its ``--lost`` worst runs (the
highest loss), which makes the survivors look "increasing". A false claim is any verdict.
With no shared seed effect (``--seed-sd 0``, the default) a lost run's selection bias is not
diluted: the hardest case, as in ``benchmarks/lost_runs_either_side.py``.

With ``--effect E`` the cells measure power instead: the variant's curve is ``E`` lower (better)
and the variant loses ``--lost`` runs at random (the claim's winner loses them); the trend's
loss rises by ``E`` per unit of x and x = 1 (its better end) loses runs at random. A correct
claim is a "better" ``separated_from``, an "increasing" trend.

Each cell twice: with the run statuses (the rule) and without (survivors only, what these
analyses did before). Rates ± Monte-Carlo standard error.

Usage:
    .venv/bin/python benchmarks/lost_runs_curves_trend.py [--replicates 2000] [--seeds 10]
        [--lost 3]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import polars as pl

from analysis import compare_over_steps, sweep_trends

STEPS = np.arange(0, 101, 10)


def curves_study(
    rng: np.random.Generator, seeds: int, lost: int, loser: str, seed_sd: float, effect: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Curves of the finished runs and every planned run's status; ``loser`` loses its
    ``lost`` worst runs (random ones when there is an effect)."""
    seed_effect = rng.normal(0.0, seed_sd, seeds)
    frames, statuses = [], []
    for variant in ("base", "v"):
        run_effect = rng.normal(0.0, 1.0, seeds)
        order = rng.permutation(seeds) if effect else np.argsort(run_effect)
        dropped = set(order[-lost:].tolist()) if variant == loser else set()
        for seed in range(seeds):
            statuses.append((variant, seed, "diverged" if seed in dropped else "done"))
            if seed in dropped:
                continue
            shift = -effect if variant == "v" else 0.0
            loss = 3 + np.exp(-STEPS / 30) + seed_effect[seed] + run_effect[seed] + shift
            loss = loss + rng.normal(0.0, 0.05, STEPS.size)
            frames.append(pl.DataFrame({"variant": variant, "seed": seed, "step": STEPS,
                                        "loss": loss}))  # fmt: skip
    status = pl.DataFrame(statuses, schema=["variant", "seed", "status"], orient="row")
    return pl.concat(frames), status


def trend_study(
    rng: np.random.Generator, seeds: int, lost: int, seed_sd: float, effect: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A 3-point sweep with no trend; x = 1 loses its ``lost`` worst runs."""
    seed_effect = rng.normal(0.0, seed_sd, seeds)
    rows, statuses = [], []
    for j, name in enumerate(("x1", "x2", "x3")):
        values = seed_effect + effect * (j + 1) + rng.normal(0.0, 1.0, seeds)
        order = rng.permutation(seeds) if effect else np.argsort(values)
        dropped = set(order[-lost:].tolist()) if j == 0 else set()
        for seed in range(seeds):
            statuses.append((name, seed, "diverged" if seed in dropped else "done"))
            if seed not in dropped:
                rows.append((name, seed, float(values[seed])))
    table = pl.DataFrame(rows, schema=["variant", "seed", "loss"], orient="row")
    return table, pl.DataFrame(statuses, schema=["variant", "seed", "status"], orient="row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--lost", type=int, default=3)
    parser.add_argument("--seed-sd", type=float, default=0.0)
    parser.add_argument("--effect", type=float, default=0.0)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cells = {
        ("curves", "base"): [0, 0],
        ("curves", "v"): [0, 0],
        ("trend", "x1"): [0, 0],
    }
    points = {name: {"x": float(j + 1)} for j, name in enumerate(("x1", "x2", "x3"))}
    if args.effect:
        del cells[("curves", "base")]
    for _ in range(args.replicates):
        for loser in ("v",) if args.effect else ("base", "v"):
            curves, statuses = curves_study(
                rng, args.seeds, args.lost, loser, args.seed_sd, args.effect
            )
            for k, lost in enumerate((statuses, None)):
                over = compare_over_steps(
                    curves, metric="loss", baseline="base", alpha=args.alpha,
                    rng=np.random.default_rng(0), lost=lost,
                )  # fmt: skip
                side = over.variants[0].separated_side
                cells[("curves", loser)][k] += side == "better" if args.effect else side is not None
        table, statuses = trend_study(rng, args.seeds, args.lost, args.seed_sd, args.effect)
        for k, lost in enumerate((statuses, None)):
            (trend,) = sweep_trends(table, metric="loss", points=points, alpha=args.alpha,
                                    lost=lost)  # fmt: skip
            claimed = (
                trend.verdict == "increasing"
                if args.effect
                else trend.verdict != "no trend detected"
            )
            cells[("trend", "x1")][k] += claimed
    n = args.replicates
    kind = (
        f"effect {args.effect:g}, runs lost at random" if args.effect else "null, worst runs lost"
    )
    print(f"{n} studies per cell ({kind}), {args.seeds} seeds planned, {args.lost} lost, "
          f"seed sd {args.seed_sd:g}; alpha {args.alpha}\n")  # fmt: skip
    claims = "correct claims" if args.effect else "false claims"
    print(f"| analysis | who loses runs | {claims}, rule | survivors only |")
    print("|---|---|---|---|")
    names = {"base": "the baseline", "v": "the variant", "x1": "the point x = 1"}
    for (analysis, loser), (ruled, survivors) in cells.items():
        print(f"| {analysis} | {names[loser]} | {_rate(ruled, n)} | {_rate(survivors, n)} |")


def _rate(hits: int, n: int) -> str:
    p = hits / n
    return f"{p:.3f} ± {math.sqrt(p * (1 - p) / n):.3f}"


if __name__ == "__main__":
    main()
