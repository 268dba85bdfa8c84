"""What a study directory says about itself: ``study.json`` and a phased study's ``phases.json``.

Both are frozen records with ``to_dict``/``from_dict``, like
:class:`~harness.store.records.RunRecord`.
:meth:`StudyMeta.from_dict` reads every ``study.json`` earlier versions wrote — the runner's
(the spec plus ``updated_at``), ``harness tune``'s (the spec plus ``search``) and ``harness
bisect``'s (``commits``, no ``variant_configs``) — and keeps keys it does not know in
``other``, so reading a description and writing it back loses nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.verdict import Direction


@dataclass(frozen=True, kw_only=True)
class SearchMeta:
    """Where ``harness tune`` keeps a study's Optuna search.

    Attributes:
        study_name: the Optuna study name.
        storage: "journal", "sqlite" or an Optuna storage URL.
    """

    study_name: str
    storage: str


@dataclass(frozen=True, kw_only=True)
class CommitMeta:
    """A commit measured by ``harness bisect`` / ``harness regress`` (the variant is its short sha).

    Attributes:
        sha: the full commit hash.
        subject: the first line of its message.
    """

    sha: str
    subject: str


@dataclass(frozen=True, kw_only=True)
class FactorialMeta:
    """A ``[factors]`` study's design as ``study.json`` keeps it: what ``harness compare``
    needs to estimate its effects (:meth:`harness.study.factorial.FactorialDesign.to_dict`).

    Attributes:
        design: "full" or "fraction".
        factors: each factor's dotted key and its levels, in order.
        cells: variant -> {factor key: level}.
        resolution: a fraction's resolution (None for a full design).
        generators: a fraction's generators.
        defining_relation: a fraction's defining relation.
        aliases: what each estimable effect is aliased with.
    """

    design: str
    factors: tuple[tuple[str, tuple[Any, ...]], ...]
    cells: Mapping[str, Mapping[str, Any]]
    resolution: int | None = None
    generators: tuple[str, ...] = ()
    defining_relation: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as the study's design wrote it."""
        return {
            "design": self.design,
            "resolution": self.resolution,
            "factors": [{"key": key, "levels": list(levels)} for key, levels in self.factors],
            "cells": {variant: dict(levels) for variant, levels in self.cells.items()},
            "generators": list(self.generators),
            "defining_relation": list(self.defining_relation),
            "aliases": list(self.aliases),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FactorialMeta:
        """Read the stored design.

        Raises:
            ValueError, TypeError, KeyError: a design of the wrong shape.
        """
        return cls(
            design=str(data.get("design") or "full"),
            factors=tuple((str(f["key"]), tuple(f["levels"])) for f in data.get("factors") or ()),
            cells={str(k): dict(v) for k, v in _items(data.get("cells"))},
            resolution=None if data.get("resolution") is None else int(data["resolution"]),
            generators=tuple(str(g) for g in data.get("generators") or ()),
            defining_relation=tuple(str(w) for w in data.get("defining_relation") or ()),
            aliases=tuple(str(a) for a in data.get("aliases") or ()),
        )


@dataclass(frozen=True, kw_only=True)
class StudyMeta:
    """A study's description (``study.json``): what ``harness compare`` and the reports read.

    Attributes:
        name: the study name.
        description: free text.
        metric: the primary metric.
        direction: whether lower or higher is better.
        seeds: the seeds of the study.
        baseline: the variant others are compared with; None when the writer named none.
        variants: the variant names, in study order.
        base: the shared config (for bisect: the measured variant's config).
        variant_configs: each variant's resolved config (empty for bisect studies).
        source: the study file, when there was one.
        sweep: variant -> {dotted key: value} for the points of a ``[sweep]``, else None.
        updated_at: when the runner last wrote the description (seconds since the epoch).
        search: the Optuna search of a ``harness tune`` study.
        commits: variant -> commit, for a ``harness bisect`` / ``harness regress`` study.
        factorial: the design of a ``[factors]`` study.
        other: keys this version does not know, kept so that a rewrite preserves them.
    """

    name: str
    description: str = ""
    metric: str = "val_loss"
    direction: Direction = Direction.MINIMIZE
    seeds: tuple[int, ...] = ()
    baseline: str | None = None
    variants: tuple[str, ...] = ()
    base: Mapping[str, Any] = field(default_factory=dict)
    variant_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str | None = None
    sweep: Mapping[str, Mapping[str, Any]] | None = None
    updated_at: float | None = None
    search: SearchMeta | None = None
    commits: Mapping[str, CommitMeta] = field(default_factory=dict)
    factorial: FactorialMeta | None = None
    other: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The description as JSON data; ``search`` and ``commits`` only when the study has them
        (the shapes earlier versions wrote)."""
        data: dict[str, Any] = {
            **self.other,
            "name": self.name,
            "description": self.description,
            "metric": self.metric,
            "direction": self.direction,
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "variants": list(self.variants),
            "base": dict(self.base),
            "variant_configs": {k: dict(v) for k, v in self.variant_configs.items()},
            "source": self.source,
            "sweep": {k: dict(v) for k, v in self.sweep.items()} if self.sweep else None,
            "updated_at": self.updated_at,
        }
        if self.search is not None:
            data["search"] = dataclasses.asdict(self.search)
        if self.commits:
            data["commits"] = {k: dataclasses.asdict(v) for k, v in self.commits.items()}
        if self.factorial is not None:
            data["factorial"] = self.factorial.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyMeta:
        """Read a ``study.json`` of any version; a missing key takes its default.

        Raises:
            ValueError: no study name, or a value of the wrong kind, naming its key.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"no study name ('name' is {name!r:.60})")
        try:
            direction = Direction(data.get("direction") or Direction.MINIMIZE)
        except ValueError:
            raise ValueError(
                f"direction must be 'minimize' or 'maximize', got {data.get('direction')!r:.60}"
            ) from None

        def read(key: str, convert: Any) -> Any:
            """``convert(data[key])``; a value of the wrong shape is named by its key."""
            value = data.get(key)
            try:
                return convert(value)
            except (TypeError, ValueError, AttributeError, OverflowError) as error:
                raise ValueError(f"'{key}' is {value!r:.60} ({error})") from None

        known = {f.name for f in dataclasses.fields(cls)}
        return cls(
            name=name,
            description=str(data.get("description") or ""),
            metric=str(data.get("metric") or "val_loss"),
            direction=direction,
            seeds=read("seeds", lambda v: tuple(_integer(seed) for seed in v or ())),
            baseline=_optional_str(data.get("baseline")),
            variants=read("variants", lambda v: tuple(str(variant) for variant in v or ())),
            base=read("base", lambda v: dict(v or {})),
            variant_configs=read("variant_configs", lambda v: {k: dict(c) for k, c in _items(v)}),
            source=_optional_str(data.get("source")),
            sweep=read("sweep", lambda v: {k: dict(p) for k, p in _items(v)} if v else None),
            updated_at=read("updated_at", lambda v: float(v) if v is not None else None),
            search=read("search", lambda v: SearchMeta(**v) if v else None),
            commits=read("commits", lambda v: {k: CommitMeta(**c) for k, c in _items(v)}),
            factorial=read("factorial", lambda v: FactorialMeta.from_dict(v) if v else None),
            other={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True, kw_only=True)
class PhaseDecision:
    """What a finished phase of a phased study hands to the phases after it.

    Attributes:
        phase: the phase name.
        chosen: the variant later phases build on.
        winner: the best variant by mean, whether or not it separates.
        separated: whether ``winner`` stands alone in the top tier.
        tiers: the phase's tiers, best first.
    """

    phase: str
    chosen: str
    winner: str
    separated: bool
    tiers: tuple[tuple[str, ...], ...]

    def describe(self) -> str:
        if self.separated:
            return f"{self.phase}: '{self.winner}' separates from the rest and is carried forward"
        return (
            f"{self.phase}: a tie (top tier {', '.join(self.tiers[0])}); "
            f"later phases keep the baseline '{self.chosen}'"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "chosen": self.chosen,
            "winner": self.winner,
            "separated": self.separated,
            "tiers": [list(tier) for tier in self.tiers],
        }

    @classmethod
    def from_dict(cls, data: Any) -> PhaseDecision:
        """Read one entry of ``phases.json``.

        Raises:
            ValueError: not an object, a field missing, or a field of the wrong kind; the
                message names the field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an object, found {type(data).__name__}")
        missing = [name for name in PHASE_DECISION_FIELDS if name not in data]
        if missing:
            raise ValueError(f"{', '.join(repr(name) for name in missing)} missing")
        tiers = data["tiers"]
        if not isinstance(tiers, list) or not all(isinstance(tier, list) for tier in tiers):
            raise ValueError("'tiers' is not a list of lists of variant names")
        return cls(
            phase=str(data["phase"]),
            chosen=str(data["chosen"]),
            winner=str(data["winner"]),
            separated=bool(data["separated"]),
            tiers=tuple(tuple(str(name) for name in tier) for tier in tiers),
        )


PHASE_DECISION_FIELDS = ("phase", "chosen", "winner", "separated", "tiers")


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _items(value: Any) -> Any:
    """The items of a JSON object (a missing one is empty); anything else is a TypeError."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, found {type(value).__name__}")
    return value.items()


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{value!r:.30} is not an integer")
    return int(value)


@dataclass(frozen=True, kw_only=True)
class SequentialLooks:
    """The record of an ``--until-decided`` study's sequential design and its looks
    (``sequential.json``): what ``harness compare --sequential`` reads to redo the decisions.

    Attributes:
        design: ``anytime-valid`` (no budget given: confidence sequences, any looks) or
            ``group-sequential`` (``--max-seeds`` given: error spending over planned looks).
        settings: the design's settings as stored (alpha, max_seeds, margin and, for the
            group-sequential design, its spending functions and futility level).
        reason: why this design ran, in words.
        looks: variant -> the paired-seed counts at which its comparison was looked at.
        outcome: variant -> why it stopped (``efficacy``, ``futility``, ``budget``) or its
            verdict, once known.
    """

    design: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    looks: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    outcome: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "settings": dict(self.settings),
            "reason": self.reason,
            "looks": {name: list(seeds) for name, seeds in self.looks.items()},
            "outcome": dict(self.outcome),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequentialLooks:
        """Read ``sequential.json``.

        Raises:
            ValueError: no design, or an unknown one.
        """
        design = data.get("design")
        if design not in ("anytime-valid", "group-sequential"):
            raise ValueError(f"unknown sequential design {design!r}")
        return cls(
            design=design,
            settings=dict(data.get("settings") or {}),
            reason=str(data.get("reason") or ""),
            looks={str(k): tuple(int(n) for n in v) for k, v in (data.get("looks") or {}).items()},
            outcome={str(k): str(v) for k, v in (data.get("outcome") or {}).items()},
        )
