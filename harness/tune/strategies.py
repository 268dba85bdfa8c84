"""The Optuna objects a ``[search]`` table names: sampler, pruner, and the suggest calls."""

from __future__ import annotations

import hashlib
from typing import Any

from harness.study.search import ParamSpec, PrunerConfig, SearchConfig


def trial_seed(sampler_seed: int, trial_number: int) -> int:
    """The sampler seed for one trial: fixed by the study's seed and the trial number.

    Seeding per trial (rather than once per process) keeps a search reproducible however it
    is split into processes: a resumed or second process does not replay the first one's
    random draws, and trial 7 draws the same numbers given the same history wherever it runs.
    """
    digest = hashlib.sha256(f"{sampler_seed}:{trial_number}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def make_sampler(search: SearchConfig, trial_number: int) -> Any:
    import optuna

    seed = trial_seed(search.sampler_seed, trial_number)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: trials still running count as bad guesses, so processes working at once
    # do not all propose the same point.
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=search.startup_trials, constant_liar=True
    )


def make_pruner(config: PrunerConfig) -> Any:
    import optuna

    if config.kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=config.startup_trials, n_warmup_steps=config.warmup_steps
        )
    if config.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=config.min_resource, reduction_factor=config.reduction_factor
        )
    if config.kind == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=config.p_threshold)
    return optuna.pruners.NopPruner()


def suggest(trial: Any, name: str, param: ParamSpec) -> Any:
    """Draw (or, for an enqueued trial, read back) one parameter."""
    if param.type == "categorical":
        return trial.suggest_categorical(name, list(param.choices or ()))
    low, high = param.low, param.high
    assert low is not None and high is not None  # ParamSpec requires both for numbers
    if param.type == "int":
        return trial.suggest_int(
            name, int(low), int(high), step=int(param.step or 1), log=param.log
        )
    return trial.suggest_float(name, float(low), float(high), step=param.step, log=param.log)
