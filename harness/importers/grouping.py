"""Runs into variants and seeds, from their configs.

Variants are told apart by the config keys whose values differ between the finished runs
(chosen automatically, bookkeeping keys such as paths and names left out, or named with
``--variant-by``); the seed is read from the seed key (found among :data:`SEED_NAMES`, or
named with ``--seed-key``). What cannot be used is said, never dropped silently: crashed and
running runs, runs without a seed, two runs of one variant and seed, seeds a variant shares
with no baseline run, and keys that still differ inside a variant (a likely confound).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import closest
from harness.importers._base import ImportFailure, SourceRun

# Config keys (their last dotted part) taken for the seed, in order of preference.
SEED_NAMES = ("seed", "random_seed", "rng_seed", "global_seed", "manual_seed", "seed_value")
# Config keys that name or place a run rather than change what it does: never variant keys.
BOOKKEEPING_NAMES = frozenset(
    {
        "name",
        "run_name",
        "run_id",
        "id",
        "exp_name",
        "experiment",
        "experiment_name",
        "notes",
        "tags",
        "project",
        "entity",
        "group",
        "job_type",
        "dir",
        "path",
        "output_dir",
        "out_dir",
        "log_dir",
        "logdir",
        "save_dir",
        "checkpoint_dir",
        "ckpt_dir",
        "resume",
        "timestamp",
        "date",
        "time",
        "host",
        "hostname",
        "user",
        "commit",
        "git_commit",
        "device",
    }
)
BOOKKEEPING_SUFFIXES = ("_dir", "_path", "_file", "_id", "_url")
MISSING = "<unset>"


@dataclass(frozen=True, kw_only=True)
class Member:
    """A run placed in a variant with its seed."""

    run: SourceRun
    variant: str
    seed: int


@dataclass(frozen=True, kw_only=True)
class LeftOut:
    """A run that is not imported, and why."""

    run: SourceRun
    reason: str


@dataclass(frozen=True, kw_only=True)
class Grouping:
    """How the runs of a source form variants and seeds.

    Attributes:
        variant_keys: the config keys that tell variants apart (dotted).
        chosen_by: "auto" (the keys that vary) or "named" (``--variant-by``).
        seed_key: the config key read as the seed; None when none was found.
        members: the runs placed, in (variant, seed) order.
        variants: each variant's name -> its values of the variant keys, in study order.
        baseline: the variant the others are compared with.
        left_out: the runs not imported, each with its reason.
        confounds: variant -> {key: the values it takes inside that variant}.
        unpaired: variant -> its seeds without a baseline run of the same seed (and, for the
            baseline, seeds no other variant has).
        ignored_keys: keys that vary but were not taken as variant keys (bookkeeping, seeds).
        common: the config every run shares (nested), the study's ``base``.
        factorial: the ``factorial`` description of ``study.json`` when the variant keys form
            a full grid of two or more factors, else None.
        notes: anything else worth saying (no seed key found ...).
    """

    variant_keys: tuple[str, ...]
    chosen_by: str
    seed_key: str | None
    members: tuple[Member, ...]
    variants: Mapping[str, Mapping[str, Any]]
    baseline: str
    left_out: tuple[LeftOut, ...] = ()
    confounds: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict)
    unpaired: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    ignored_keys: tuple[str, ...] = ()
    common: Mapping[str, Any] = field(default_factory=dict)
    factorial: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()

    def seeds_of(self, variant: str) -> list[int]:
        return sorted(m.seed for m in self.members if m.variant == variant)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"attn": "mha"}}`` -> ``{"model.attn": "mha"}`` (flat dotted keys kept)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten` (a key that is both a value and a table keeps the table)."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    return nested


def group_runs(
    runs: Sequence[SourceRun],
    *,
    variant_by: Sequence[str] | None = None,
    seed_key: str | None = None,
    baseline: str | None = None,
) -> Grouping:
    """Place runs in variants and seeds from their configs.

    Args:
        runs: every run read from the source.
        variant_by: the config keys (dotted) that tell variants apart; None to choose them:
            every key whose value differs between finished runs, bookkeeping keys aside.
        seed_key: the config key holding the seed; None to find one (:data:`SEED_NAMES`).
        baseline: the baseline variant (a variant name); None for the one with most seeds.

    Returns:
        The grouping, with everything that could not be used said.

    Raises:
        ImportFailure: no finished run, or a named key or baseline that no run has.
    """
    flat = {id(run): flatten(run.config) for run in runs}
    left_out: list[LeftOut] = []
    usable = []
    configured = any(flat[id(run)] for run in runs)
    for run in runs:
        if run.curve.height == 0 and not run.final:
            left_out.append(LeftOut(run=run, reason="no metric values were read from it"))
        elif configured and not flat[id(run)]:
            left_out.append(LeftOut(run=run, reason="no config was read from it: no variant"))
        elif run.state == "finished":
            usable.append(run)
        elif run.state == "crashed":
            left_out.append(LeftOut(run=run, reason="crashed (or failed, killed)"))
        else:
            left_out.append(LeftOut(run=run, reason="still running (or killed before it ended)"))
    if not usable:
        raise ImportFailure(f"no finished run among the {len(runs)} run(s) found")
    keys = sorted({key for run in usable for key in flat[id(run)]})
    notes: list[str] = []

    seed_key = _seed_key(keys, seed_key, [flat[id(run)] for run in usable])
    varying = [k for k in keys if len({_hashable(flat[id(r)].get(k, MISSING)) for r in usable}) > 1]
    if variant_by:
        for key in variant_by:
            if key not in keys:
                match = closest(key, keys)
                hint = f" (did you mean '{match}'?)" if match else ""
                raise ImportFailure(
                    f"--variant-by: no run's config has the key '{key}'{hint}; keys: "
                    f"{', '.join(keys)}"
                )
        variant_keys = tuple(variant_by)
        chosen_by = "named"
    else:
        variant_keys = tuple(k for k in varying if k != seed_key and not _is_bookkeeping(k))
        chosen_by = "auto"
    ignored = tuple(k for k in varying if k not in variant_keys and k != seed_key)

    values_of = {
        id(run): tuple(_hashable(flat[id(run)].get(k, MISSING)) for k in variant_keys)
        for run in usable
    }
    combos = sorted(set(values_of.values()), key=lambda combo: [_sort_key(v) for v in combo])
    names = _variant_names(variant_keys, combos)

    placed: dict[tuple[str, int], SourceRun] = {}
    seeds = _seeds(usable, flat, seed_key, left_out)
    if seed_key is None:
        notes.append(
            f"no seed key found (looked for {', '.join(SEED_NAMES)}): runs are numbered and "
            "compared unpaired; name the key with --seed-key"
        )
    order = sorted(usable, key=lambda r: (r.started_at or 0.0, r.run_id))
    for run in order:
        if id(run) not in seeds:
            continue
        slot = (names[values_of[id(run)]], seeds[id(run)])
        if slot in placed:
            # the later run of one variant and seed stands (a rerun of a crashed one)
            left_out.append(
                LeftOut(
                    run=placed[slot],
                    reason=f"a later run of variant {slot[0]} seed {slot[1]} ({run.name}) "
                    "replaces it",
                )
            )
        placed[slot] = run
    members = tuple(
        Member(run=run, variant=variant, seed=seed)
        for (variant, seed), run in sorted(placed.items())
    )
    variants = {
        names[combo]: {k: _plain(v) for k, v in zip(variant_keys, combo, strict=True)}
        for combo in combos
        if any(m.variant == names[combo] for m in members)
    }
    if not variants:
        raise ImportFailure("no finished run could be placed in a variant (see the runs left out)")
    counts = {name: sum(m.variant == name for m in members) for name in variants}
    if baseline is None:
        baseline = max(variants, key=lambda name: (counts[name], -list(variants).index(name)))
    elif baseline not in variants:
        match = closest(baseline, list(variants))
        hint = f" (did you mean '{match}'?)" if match else ""
        raise ImportFailure(
            f"--baseline: no variant '{baseline}'{hint}; variants: {', '.join(variants)}"
        )
    return Grouping(
        variant_keys=variant_keys,
        chosen_by=chosen_by,
        seed_key=seed_key,
        members=members,
        variants=variants,
        baseline=baseline,
        left_out=tuple(left_out),
        confounds=_confounds(members, flat, set(variant_keys) | {seed_key or ""}),
        unpaired=_unpaired(members, baseline, paired=seed_key is not None),
        ignored_keys=ignored,
        common=unflatten(
            {
                k: _plain(v)
                for k in keys
                if k not in varying and (v := flat[id(usable[0])].get(k, MISSING)) != MISSING
            }
        ),
        factorial=_factorial(variant_keys, variants),
        notes=tuple(notes),
    )


def _seed_key(keys: list[str], named: str | None, configs: list[dict[str, Any]]) -> str | None:
    if named is not None:
        if named not in keys:
            match = closest(named, keys)
            hint = f" (did you mean '{match}'?)" if match else ""
            raise ImportFailure(f"--seed-key: no run's config has the key '{named}'{hint}")
        return named
    for name in SEED_NAMES:
        found = [k for k in keys if k.rsplit(".", 1)[-1].lower() == name]
        found = [k for k in found if any(_integer(c.get(k)) is not None for c in configs)]
        if found:
            return min(found, key=lambda k: (k.count("."), k))
    return None


def _seeds(
    runs: list[SourceRun],
    flat: dict[int, dict[str, Any]],
    seed_key: str | None,
    left_out: list[LeftOut],
) -> dict[int, int]:
    """Each run's seed; without a seed key, distinct numbers so that nothing is paired."""
    if seed_key is None:
        ordered = sorted(runs, key=lambda r: (r.started_at or 0.0, r.run_id))
        return {id(run): number for number, run in enumerate(ordered)}
    seeds = {}
    for run in runs:
        value = flat[id(run)].get(seed_key)
        seed = _integer(value)
        if seed is None:
            shown = "no value" if value is None else f"{value!r:.30}, not an integer"
            left_out.append(LeftOut(run=run, reason=f"its seed ('{seed_key}') has {shown}"))
        else:
            seeds[id(run)] = seed
    return seeds


def _confounds(
    members: tuple[Member, ...], flat: dict[int, dict[str, Any]], skip: set[str]
) -> dict[str, dict[str, tuple[Any, ...]]]:
    found: dict[str, dict[str, tuple[Any, ...]]] = {}
    for variant, group in itertools.groupby(members, key=lambda m: m.variant):
        runs = [flat[id(m.run)] for m in group]
        keys = sorted({k for config in runs for k in config} - skip)
        for key in keys:
            if _is_bookkeeping(key) or _is_seed_like(key):
                continue
            values = {_hashable(config.get(key, MISSING)) for config in runs}
            if len(values) > 1:
                found.setdefault(variant, {})[key] = tuple(
                    _plain(v) for v in sorted(values, key=_sort_key)
                )
    return found


def _unpaired(
    members: tuple[Member, ...], baseline: str, *, paired: bool
) -> dict[str, tuple[int, ...]]:
    if not paired:
        return {}
    seeds: dict[str, set[int]] = {}
    for member in members:
        seeds.setdefault(member.variant, set()).add(member.seed)
    base = seeds.get(baseline, set())
    others = set().union(*(s for name, s in seeds.items() if name != baseline))
    unpaired = {name: tuple(sorted(s - base)) for name, s in seeds.items() if name != baseline}
    unpaired[baseline] = tuple(sorted(base - others)) if len(seeds) > 1 else ()
    return {name: found for name, found in unpaired.items() if found}


def _factorial(
    keys: tuple[str, ...], variants: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The factorial description ``harness compare`` reads, when the variants are every
    combination of two or more keys' values."""
    if len(keys) < 2:
        return None
    levels = {k: sorted({_hashable(v[k]) for v in variants.values()}, key=_sort_key) for k in keys}
    if any(len(values) < 2 for values in levels.values()):
        return None
    if len(variants) != len(list(itertools.product(*levels.values()))):
        return None
    return {
        "design": "full",
        "resolution": None,
        "factors": [{"key": k, "levels": [_plain(v) for v in levels[k]]} for k in keys],
        "cells": {name: dict(values) for name, values in variants.items()},
        "generators": [],
        "defining_relation": [],
        "aliases": [],
    }


def _variant_names(
    keys: tuple[str, ...], combos: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], str]:
    """A variant name per combination of values: the value alone for one key, else
    ``label-value`` parts joined by ``_`` (as a ``[sweep]`` names its points)."""
    from harness.study.sweep import sanitize_name

    last = [k.rsplit(".", 1)[-1] for k in keys]
    labels = [
        short if last.count(short) == 1 else key for short, key in zip(last, keys, strict=True)
    ]
    names: dict[tuple[Any, ...], str] = {}
    taken: set[str] = set()
    for combo in combos:
        if not keys:
            name = "all"
        elif len(keys) == 1:
            name = sanitize_name(_format(combo[0]))
        else:
            name = sanitize_name(
                "_".join(f"{label}-{_format(v)}" for label, v in zip(labels, combo, strict=True))
            )
        unique, number = name, 2
        while unique in taken:
            unique, number = f"{name}-{number}", number + 1
        taken.add(unique)
        names[combo] = unique
    return names


def _is_bookkeeping(key: str) -> bool:
    last = key.rsplit(".", 1)[-1].lower()
    return last in BOOKKEEPING_NAMES or last.endswith(BOOKKEEPING_SUFFIXES) or _is_seed_like(key)


def _is_seed_like(key: str) -> bool:
    return "seed" in key.rsplit(".", 1)[-1].lower()


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _hashable(value: Any) -> Any:
    """A config value as a dict key: lists and tables as their JSON text."""
    if isinstance(value, list | dict):
        return "json:" + json.dumps(value, sort_keys=True)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("json:"):
        return json.loads(value[5:])
    return None if value == MISSING else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == MISSING:
        return (0, "")
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    return (3, str(value))


def _format(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
