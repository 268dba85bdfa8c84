"""The noisy bisect's error rate with crashing commits, by simulation (harness.bisect.search).

Simulated histories: ``val_loss = 3 + seed effect (sd 1, shared by every commit) + noise
(sd --noise per commit and seed) + --regression from the culprit on``; the culprit is drawn
uniformly among the commits after the good endpoint, and each commit strictly between the
endpoints crashes (its command fails: ``git bisect skip``) with probability --crash. The bisect
starts at 4 seeds and doubles up to 32, as the test suite's.

A *wrong decision* is a good commit (before the culprit) called bad, or a bad one called good;
forced decisions (still unknown at --max-seeds) are counted apart, as the stated bound leaves
them out. The bound: P(any wrong non-forced decision) <= alpha. Printed for the error-spending
rule (harness.bisect.search.decision_alpha) and, for contrast, for the former split
alpha / K, whose budget is overspent whenever skips add decisions.

Usage:
    .venv/bin/python benchmarks/bisect_error_rate.py [--worlds 300] [--commits 9 17]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

import harness.bisect.search as search
from harness.bisect.worktrees import Commit


@dataclass(frozen=True, kw_only=True)
class Measurement:
    seed: int
    value: float | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.value is not None


class SimulatedHistory:
    """Measurements of one simulated history; (commit, seed) values drawn once and cached."""

    def __init__(
        self, *, n: int, culprit: int, crashing: set[int], regression: float, noise: float,
        rng: np.random.Generator,
    ) -> None:  # fmt: skip
        self.commits = [Commit(sha=f"{i:012x}" + "f" * 28, subject=f"c{i}") for i in range(n)]
        self.index = {c.short: i for i, c in enumerate(self.commits)}
        self.culprit, self.crashing = culprit, crashing
        self.regression, self.noise, self.rng = regression, noise, rng
        self.seed_effects: dict[int, float] = {}
        self.values: dict[tuple[int, int], float | None] = {}

    def value(self, commit: int, seed: int) -> float | None:
        if (commit, seed) not in self.values:
            if commit in self.crashing:
                self.values[(commit, seed)] = None
            else:
                effect = self.seed_effects.setdefault(seed, float(self.rng.normal(0, 1)))
                shift = self.regression if commit >= self.culprit else 0.0
                self.values[(commit, seed)] = (
                    3 + effect + shift + float(self.rng.normal(0, self.noise))
                )
        return self.values[(commit, seed)]

    def measure(self, commit: Commit, seeds: Sequence[int]) -> list[Measurement]:
        out = []
        for seed in seeds:
            value = self.value(self.index[commit.short], seed)
            out.append(Measurement(seed=seed, value=value, error=None if value else "crashed"))
            if value is None:
                break
        return out

    def table(self, variants: Sequence[str], seeds: Sequence[int]) -> pl.DataFrame:
        rows = [
            {"variant": v, "seed": s, "val_loss": self.values[(self.index[v], s)]}
            for v in variants
            for s in seeds
            if self.values.get((self.index[v], s)) is not None
        ]
        schema = {"variant": pl.Utf8, "seed": pl.Int64, "val_loss": pl.Float64}
        return pl.DataFrame(rows, schema=schema)


def one_bisect(
    rng: np.random.Generator, *, n: int, crash: float, regression: float, noise: float,
    alpha: float,
) -> dict[str, Any]:  # fmt: skip
    culprit = int(rng.integers(1, n))
    crashing = {i for i in range(1, n - 1) if rng.random() < crash}
    history = SimulatedHistory(
        n=n, culprit=culprit, crashing=crashing, regression=regression, noise=noise, rng=rng
    )
    result = search.noisy_bisect(
        history.commits, history, metric="val_loss", direction="minimize", seeds=range(4),
        max_seeds=32, alpha=alpha,
    )  # fmt: skip
    wrong = forced_wrong = 0
    for tested in result.tested:
        if tested.role != "probe" or tested.verdict not in ("good", "bad"):
            continue
        truth = "bad" if tested.position >= culprit else "good"
        if tested.verdict != truth:
            if tested.forced:
                forced_wrong += 1
            else:
                wrong += 1
    return {
        "wrong": wrong > 0,
        "forced_wrong": forced_wrong > 0,
        "found_right": result.outcome == "found" and result.first_bad == history.commits[culprit],
        "found": result.outcome == "found",
        "beyond_k": result.decisions_made > result.decisions,
        "spent": result.alpha_spent,
        "old_spent": result.decisions_made * alpha / result.decisions,
        "skips": sum(t.verdict == "skip" for t in result.tested),
    }


def old_rule(alpha: float, decision: int, *, planned: int) -> float:
    """The former budget: alpha / K for every decision, however many there are."""
    return alpha / planned


def run(args: argparse.Namespace, rule: str, n: int, alpha: float) -> str:
    rng = np.random.default_rng(args.seed)
    original = search.decision_alpha
    if rule == "alpha / K (former)":
        search.decision_alpha = old_rule  # type: ignore[assignment]
    try:
        runs = [
            one_bisect(rng, n=n, crash=args.crash, regression=args.regression, noise=args.noise,
                       alpha=alpha)
            for _ in range(args.worlds)
        ]  # fmt: skip
    finally:
        search.decision_alpha = original  # type: ignore[assignment]
    worlds = len(runs)
    wrong = sum(r["wrong"] for r in runs) / worlds
    mc = 3 * math.sqrt(max(wrong, 1 / worlds) * (1 - wrong) / worlds)
    beyond = sum(r["beyond_k"] for r in runs) / worlds
    spent = max(r["spent"] if rule.startswith("spending") else r["old_spent"] for r in runs)
    return (
        f"| {rule} | {n} | {alpha:g} | {worlds} | {wrong:.3f} (± {mc:.3f}) | "
        f"{sum(r['forced_wrong'] for r in runs) / worlds:.3f} | {beyond:.2f} | "
        f"{spent / alpha:.2f} α | {sum(r['found_right'] for r in runs) / worlds:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=300)
    parser.add_argument("--commits", type=int, nargs="+", default=[9, 17])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.05, 0.2])
    parser.add_argument("--crash", type=float, default=0.3)
    parser.add_argument("--regression", type=float, default=0.3)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"regression {args.regression}, noise sd {args.noise}, seed sd 1, each interior commit "
        f"crashes with probability {args.crash}; seeds 4 doubling to 32\n"
    )
    print(
        "| budget rule | commits | α | histories | P(any wrong decision) (± 3 MC sd) | "
        "P(wrong forced) | P(decisions > K) | most α spent | culprit found right |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.commits:
        for alpha in args.alphas:
            for rule in ("spending (0.8 α / K, then 0.2 α · 6/(π² i²))", "alpha / K (former)"):
                print(run(args, rule, n, alpha), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
