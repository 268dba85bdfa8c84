"""The ``[search]`` table of a study file, parsed at the door into typed settings.

A search study is an ordinary study file plus::

    [search]
    trials = 20                  # trials in all (complete + pruned); --trials overrides
    seeds = 2                    # seeds per trial: a count (0..N-1) or a list; default study.seeds
    variant = "proxy"            # the variant the space applies to; default the study baseline
    sampler = "tpe"              # "tpe" (default) or "random"
    sampler_seed = 0
    startup_trials = 5           # random trials before TPE models the space
    storage = "journal"          # "journal", "sqlite", or an Optuna storage URL
    top_k = 3                    # trials re-evaluated on fresh seeds at the end
    fresh_seeds = 3              # a count (1000, 1001 ... minus search seeds) or a list
    alpha = 0.05                 # for the separation check of the re-evaluated trials

    [search.pruner]              # or: pruner = "median"
    kind = "median"              # "none" (default), "median", "hyperband", "wilcoxon"

    [search.space]               # any dotted config key of the variant
    "train.lr" = { type = "float", low = 1e-4, high = 1e-2, log = true }
    "train.warmup_steps" = { type = "int", low = 0, high = 40, step = 10 }
    "model.init_std" = { type = "categorical", choices = [0.01, 0.02, 0.04] }

Only what the file says lives here; the Optuna objects it names are built in ``harness.tune``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import SpecError, closest
from harness.schema import from_mapping, require
from harness.study.seeds import seed_list
from harness.study.variant import VariantSpec, derive_variant

STORAGE_KINDS = ("journal", "sqlite")
FRESH_SEED_START = 1000  # fresh seeds are counted from here, far from the usual 0..N-1
# The variant a boundary value is checked as; its errors name variants.trial-check.*.
_CHECK_NAME = "trial-check"


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One searched config key.

    Attributes:
        type: "float", "int" or "categorical".
        low: the smallest value (float and int).
        high: the largest value, inclusive (float and int).
        log: sample on a log scale (float and int; needs ``low > 0``).
        step: a grid step (float and int; not with ``log``).
        choices: the values of a categorical parameter (strings, numbers or booleans).
    """

    type: Literal["float", "int", "categorical"]
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.type == "categorical":
            require(self.choices is not None and len(self.choices) > 0, "choices", "is required")
            require(self.low is None and self.high is None, "low", "is for float and int only")
            require(self.step is None and not self.log, "step", "is for float and int only")
            for choice in self.choices or ():
                require(
                    isinstance(choice, str | int | float | bool),
                    "choices",
                    f"must be strings, numbers or booleans, got {choice!r}",
                )
            return
        require(self.choices is None, "choices", "is for categorical parameters only")
        require(self.low is not None, "low", "is required")
        require(self.high is not None, "high", "is required")
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        require(math.isfinite(low) and math.isfinite(high), "low", "must be finite")
        require(low < high, "high", f"must be greater than low ({self.low})")
        require(not self.log or low > 0, "low", "must be positive on a log scale")
        require(not (self.log and self.step is not None), "step", "cannot be used with log")
        require(self.step is None or self.step > 0, "step", "must be positive")
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                require(
                    value is None or (isinstance(value, int) and not isinstance(value, bool)),
                    name,
                    f"must be an integer for an int parameter, got {value!r}",
                )

    def boundary_values(self) -> list[Any]:
        """Values that exercise the whole range: checked against the config at the door."""
        if self.type == "categorical":
            return list(self.choices or ())
        return [self.low, self.high]


@dataclass(frozen=True, kw_only=True)
class PrunerConfig:
    """Which pruner stops unpromising trials, fed with the seed-mean curve.

    Attributes:
        kind: "none", "median", "hyperband" or "wilcoxon".
        startup_trials: median: trials that finish before any is pruned.
        warmup_steps: median: training steps before a trial may be pruned.
        min_resource: hyperband: the fewest steps a trial gets.
        reduction_factor: hyperband: the fraction promoted at each rung is 1 / this.
        p_threshold: wilcoxon: prune when the trial is worse than the best at this p-value.
            The test is repeated at every report with no error control; the honest-winner
            check at the end is where error rates are controlled.
    """

    kind: Literal["none", "median", "hyperband", "wilcoxon"] = "none"
    startup_trials: int = 2
    warmup_steps: int = 0
    min_resource: int = 1
    reduction_factor: int = 3
    p_threshold: float = 0.1

    def __post_init__(self) -> None:
        require(self.startup_trials >= 0, "startup_trials", "must be at least 0")
        require(self.warmup_steps >= 0, "warmup_steps", "must be at least 0")
        require(self.min_resource >= 1, "min_resource", "must be at least 1")
        require(self.reduction_factor >= 2, "reduction_factor", "must be at least 2")
        require(0 < self.p_threshold < 1, "p_threshold", "must be between 0 and 1")


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """The ``[search]`` table; see the module docstring for the file form.

    Attributes:
        space: searched dotted config keys (relative to the variant, e.g. ``train.lr``).
        trials: trials in all, counting complete and pruned ones; ``--trials`` overrides.
        seeds: the seeds every trial runs (paired across trials); default the study's.
        variant: the variant whose config the space applies to; default the study baseline.
        sampler: "tpe" or "random".
        sampler_seed: seeds the sampler; each trial's draws depend on it and its number.
        startup_trials: random trials before TPE starts modelling the space.
        pruner: the pruner.
        storage: "journal" (a JournalStorage file in the study's ``tune/`` directory),
            "sqlite" (``tune/optuna.db``) or an Optuna storage URL (e.g. PostgreSQL) for
            workers on several hosts.
        study_name: the Optuna study name; default the study name.
        top_k: the best trials re-evaluated on fresh seeds (0 skips the check).
        fresh_seeds: the re-evaluation seeds, disjoint from ``seeds``.
        alpha: the significance level of the separation check.
    """

    space: Mapping[str, ParamSpec]
    trials: int = 20
    seeds: tuple[int, ...]
    variant: str
    sampler: Literal["tpe", "random"] = "tpe"
    sampler_seed: int = 0
    startup_trials: int = 5
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    storage: str = "journal"
    study_name: str
    top_k: int = 3
    fresh_seeds: tuple[int, ...]
    alpha: float = 0.05

    def __post_init__(self) -> None:
        require(self.trials >= 1, "trials", "must be at least 1")
        require(self.startup_trials >= 0, "startup_trials", "must be at least 0")
        require(self.top_k == 0 or self.top_k >= 2, "top_k", "must be 0 (no check) or >= 2")
        require(0 < self.alpha < 1, "alpha", "must be between 0 and 1")
        require(
            self.storage in STORAGE_KINDS or "://" in self.storage,
            "storage",
            f"must be 'journal', 'sqlite' or a storage URL, got {self.storage!r}",
        )
        require(
            self.top_k == 0 or len(self.fresh_seeds) >= 2,
            "fresh_seeds",
            "the separation check needs at least 2 fresh seeds",
        )
        overlap = sorted(set(self.seeds) & set(self.fresh_seeds))
        require(not overlap, "fresh_seeds", f"must not reuse search seeds {overlap}")


# The [search] keys as written in a file; ``seeds``, ``variant`` ... are filled in from the study.
_FILE_KEYS = (
    "space",
    "trials",
    "seeds",
    "variant",
    "sampler",
    "sampler_seed",
    "startup_trials",
    "pruner",
    "storage",
    "study_name",
    "top_k",
    "fresh_seeds",
    "alpha",
)


def parse_search(
    table: Any,
    *,
    study_name: str,
    seeds: tuple[int, ...],
    baseline: str,
    base: Mapping[str, Any],
    variants: Sequence[VariantSpec],
) -> SearchConfig:
    """Validate a raw ``[search]`` table against its study.

    Every searched key is checked against the variant's config with the boundary values of
    its range (the same validation as a study variant), so a typo fails here, not at trial 7.

    Args:
        table: the ``[search]`` table as written.
        study_name: the study's name, the default Optuna study name.
        seeds: the study's seeds, the default search seeds.
        baseline: the study's baseline, the default searched variant.
        base: the study's ``[base]`` table.
        variants: the study's variants, resolved.

    Returns:
        The search settings.

    Raises:
        SpecError: naming the ``search.*`` key at fault and the closest valid key.
    """
    if not isinstance(table, Mapping):
        raise SpecError("must be a table", key="search")
    for key in table:
        if key not in _FILE_KEYS:
            suggestion = closest(key, _FILE_KEYS)
            raise SpecError(
                "unknown key",
                key=f"search.{key}",
                suggestion=f"search.{suggestion}" if suggestion else None,
            )
    raw = dict(table)
    space = _parse_space(raw.pop("space", None))
    search_seeds = seed_list(raw.pop("seeds", list(seeds)), "search.seeds")
    fresh_seeds = seed_list(
        raw.pop("fresh_seeds", 3), "search.fresh_seeds", start=FRESH_SEED_START, avoid=search_seeds
    )
    if isinstance(raw.get("pruner"), str):
        raw["pruner"] = {"kind": raw["pruner"]}
    raw.setdefault("variant", baseline)
    raw.setdefault("study_name", study_name)
    by_name = {v.name: v for v in variants}
    if raw["variant"] not in by_name:
        raise SpecError(
            f"is not a variant of the study (variants: {', '.join(by_name)})",
            key="search.variant",
            suggestion=closest(str(raw["variant"]), by_name),
        )
    search = from_mapping(
        SearchConfig,
        {**raw, "space": {}, "seeds": list(search_seeds), "fresh_seeds": list(fresh_seeds)},
        where="search",
    )
    variant = by_name[search.variant]
    for name, param in space.items():
        _check_command_uses(name, variant)
        for value in param.boundary_values():
            try:
                derive_variant(_CHECK_NAME, base, variant, {name: value})
            except SpecError as error:
                raise SpecError(
                    f"{value!r} does not fit the config of variant '{variant.name}': "
                    f"{error.message}",
                    key=f"search.space.{name}",
                    suggestion=_space_suggestion(error),
                ) from None
    return dataclasses.replace(search, space=space)


def _parse_space(raw: Any) -> dict[str, ParamSpec]:
    if raw is None:
        raise SpecError("is required: the parameters to search", key="search.space")
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError("must be a non-empty table of parameters", key="search.space")
    space: dict[str, ParamSpec] = {}
    for name, definition in _flatten_space(raw, ""):
        where = f"search.space.{name}"
        if not isinstance(definition, Mapping):
            raise SpecError(
                'expected a parameter table such as { type = "float", low = 1e-4, high = 1e-2 }',
                key=where,
            )
        space[name] = from_mapping(ParamSpec, definition, where=where)
    return space


def _flatten_space(raw: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """Both ``"train.lr" = {...}`` and ``train.lr = {...}`` (nested tables) name ``train.lr``."""
    items: list[tuple[str, Any]] = []
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not isinstance(value.get("type"), str):
            if not value:
                raise SpecError("is an empty table", key=f"search.space.{name}")
            items += _flatten_space(value, f"{name}.")
        else:
            items.append((name, value))
    return items


def _check_command_uses(name: str, variant: VariantSpec) -> None:
    """A command sees its ``params`` only through ``{placeholders}``: searching one it never
    uses would tune nothing."""
    if variant.kind != "command" or not name.startswith("params."):
        return
    param = name.removeprefix("params.")
    if "{" + param + "}" not in variant.config["command"]:
        used = re.findall(r"\{([A-Za-z0-9_]+)\}", variant.config["command"])
        suggestion = closest(param, used)
        raise SpecError(
            f"the command of variant '{variant.name}' never uses {{{param}}}, so searching "
            "it would change nothing",
            key=f"search.space.{name}",
            suggestion=f"search.space.params.{suggestion}" if suggestion else None,
        )


def _space_suggestion(error: SpecError) -> str | None:
    """Turn ``variants.trial-check.train.lrr``'s suggestion into the space key to write."""
    prefix = f"variants.{_CHECK_NAME}."
    if error.suggestion and error.suggestion.startswith(prefix):
        return f"search.space.{error.suggestion[len(prefix) :]}"
    return None
