"""Phased ablations: each phase may build on the winner of an earlier one.

::

    [[phases]]
    name = "attention"
    baseline = "mha"
    [phases.variants.mha]
    model.attention = "mha"
    [phases.variants.gqa]
    model.attention = "gqa"

    [[phases]]
    name = "norm"
    base_from = "attention"      # build on that phase's winner ...
    [phases.variants.pre]
    ...

A phase's base is the study's ``[base]``, plus — when ``base_from`` names an earlier phase —
that phase's own base and its chosen variant. The chosen variant is the winner only when the
winner *separates*: it stands alone in the top tier of ``analysis.compare``, i.e. it beats every
other variant of that phase after multiplicity correction. Otherwise the phase was a tie and
the later phase builds on its baseline instead, and says so. Each phase is an ordinary study
directory, ``<runs root>/<study>/<phase>/``, so phases resume and ``harness compare`` works on
each; the decisions are written to ``<runs root>/<study>/phases.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import SpecError, closest
from harness.study.spec import NAME_PATTERN, StudySpec, deep_merge, located_in, parse_study

PHASE_KEYS = ("name", "description", "baseline", "base_from", "variants", "sweep")


@dataclass(frozen=True, kw_only=True)
class PhaseDecision:
    """What a finished phase hands to the phases after it.

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


@dataclass(frozen=True, kw_only=True)
class PhasedStudy:
    """A study file with ``[[phases]]``, validated.

    Attributes:
        name: the study name; phases live under ``<runs root>/<name>/``.
        raw: the study file's tables other than ``phases``.
        phases: each phase's raw table, in order.
        source: the study file.
        text: its text, for error lines.
    """

    name: str
    raw: Mapping[str, Any]
    phases: tuple[Mapping[str, Any], ...]
    source: Path | None = None
    text: str = ""

    def phase_spec(self, index: int, decisions: Mapping[str, PhaseDecision]) -> StudySpec:
        """The study of phase ``index``, given the decisions of the phases before it."""
        phase = self.phases[index]
        base = self._base_for(index, decisions)
        study = {k: v for k, v in self.raw["study"].items() if k != "baseline"}
        study["name"] = phase["name"]
        if "baseline" in phase:
            study["baseline"] = phase["baseline"]
        if "description" in phase:
            study["description"] = phase["description"]
        raw = {
            **{k: v for k, v in self.raw.items() if k not in ("study", "base")},
            "study": study,
            "base": base,
        }
        for key in ("variants", "sweep"):
            if key in phase:
                raw[key] = phase[key]
        with located_in(self.source or Path("<study>"), self.text):
            try:
                return parse_study(raw, source=self.source)
            except SpecError as error:
                raise _in_phase(error, index) from None

    def _base_for(self, index: int, decisions: Mapping[str, PhaseDecision]) -> dict[str, Any]:
        phase = self.phases[index]
        source = phase.get("base_from")
        if source is None:
            return dict(self.raw.get("base", {}))
        earlier = next(i for i, p in enumerate(self.phases) if p["name"] == source)
        earlier_spec = self.phase_spec(earlier, decisions)
        decision = decisions.get(source)
        chosen = decision.chosen if decision else earlier_spec.baseline
        return deep_merge(earlier_spec.base, earlier_spec.variant(chosen).overrides)


def parse_phased(
    raw: Mapping[str, Any], *, source: Path | None = None, text: str = ""
) -> PhasedStudy:
    """Validate a phased study: every phase's keys, names, ``base_from`` order and variants.

    Each phase is validated as a study with its ``base_from`` phases resolved to their
    baselines, so every key of every phase is checked before anything runs.
    """
    phases = raw.get("phases")
    where = source or Path("<study>")
    if not isinstance(phases, list) or not phases:
        raise SpecError("[[phases]] needs at least one phase", file=where, key="phases")
    if "variants" in raw or "sweep" in raw:
        raise SpecError(
            "a phased study lists its variants inside each [[phases]] entry",
            file=where,
            key="variants" if "variants" in raw else "sweep",
        )
    seen: list[str] = []
    for index, phase in enumerate(phases):
        key = f"phases[{index}]"
        if not isinstance(phase, Mapping):
            raise SpecError("each phase must be a table", file=where, key=key)
        for name in phase:
            if name not in PHASE_KEYS:
                raise SpecError(
                    "unknown key in a phase",
                    file=where,
                    key=f"{key}.{name}",
                    suggestion=closest(name, PHASE_KEYS),
                )
        name = phase.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise SpecError(
                "every phase needs a name of letters, digits, '_', '.', '-'",
                file=where,
                key=f"{key}.name",
            )
        if name in seen:
            raise SpecError(f"two phases are named '{name}'", file=where, key=f"{key}.name")
        base_from = phase.get("base_from")
        if base_from is not None and base_from not in seen:
            raise SpecError(
                f"base_from must name an earlier phase, got {base_from!r}",
                file=where,
                key=f"{key}.base_from",
                suggestion=closest(str(base_from), seen),
            )
        seen.append(name)
    study = raw.get("study")
    if not isinstance(study, Mapping) or not isinstance(study.get("name"), str):
        raise SpecError("missing the [study] table with a name", file=where, key="study")
    phased = PhasedStudy(
        name=study["name"],
        raw={k: v for k, v in raw.items() if k != "phases"},
        phases=tuple(phases),
        source=source,
        text=text,
    )
    for index in range(len(phases)):
        phased.phase_spec(index, {})
    return phased


def decide(spec: StudySpec, table: Any) -> PhaseDecision:
    """The phase's decision from its results table (``variant``, ``seed``, metric columns)."""
    from analysis import compare
    from analysis.compare import AnalysisError

    try:
        result = compare(
            table, metric=spec.metric, baseline=spec.baseline, direction=spec.direction
        )
    except AnalysisError:  # e.g. a variant with fewer than 2 finished seeds: nothing separates
        names = tuple(v.name for v in spec.variants)
        return PhaseDecision(
            phase=spec.name,
            chosen=spec.baseline,
            winner=spec.baseline,
            separated=False,
            tiers=(names,),
        )
    top = result.tiers[0]
    means = {v.variant: v.mean for v in result.variants}
    pick = min if spec.direction == "minimize" else max
    winner = pick(top, key=lambda name: means[name])
    separated = len(top) == 1
    return PhaseDecision(
        phase=spec.name,
        chosen=winner if separated else spec.baseline,
        winner=winner,
        separated=separated,
        tiers=tuple(tuple(t) for t in result.tiers),
    )


def run_phases(
    phased: PhasedStudy,
    *,
    runs_root: Path,
    run_phase: Callable[[StudySpec, Path], Any],
    load_table: Callable[[Path], Any],
    announce: Callable[[str], None] = print,
) -> list[PhaseDecision]:
    """Run the phases in order; each phase's finished runs are reused on a rerun.

    Args:
        phased: the validated phased study.
        runs_root: the runs root; phases go to ``runs_root / phased.name / <phase>``.
        run_phase: runs one phase's study given its runs root (``harness.run.runner.run_study``).
        load_table: the results table of a study directory (``harness.store.load_table``).
        announce: where progress lines go.
    """
    root = runs_root / phased.name
    decisions: dict[str, PhaseDecision] = {}
    ordered: list[PhaseDecision] = []
    for index, phase in enumerate(phased.phases):
        spec = phased.phase_spec(index, decisions)
        announce(
            f"phase {index + 1}/{len(phased.phases)}: {spec.name} "
            f"({len(spec.variants)} variants x {len(spec.seeds)} seeds)"
        )
        run_phase(spec, root)
        decision = decide(spec, load_table(root / spec.name))
        decisions[phase["name"]] = decision
        ordered.append(decision)
        announce(decision.describe())
        _write_decisions(root, ordered)
    return ordered


def _write_decisions(root: Path, decisions: list[PhaseDecision]) -> None:
    from harness.store.filesystem import atomic_write_text

    payload = [
        {
            "phase": d.phase,
            "chosen": d.chosen,
            "winner": d.winner,
            "separated": d.separated,
            "tiers": [list(t) for t in d.tiers],
        }
        for d in decisions
    ]
    atomic_write_text(root / "phases.json", json.dumps(payload, indent=2))


def _in_phase(error: SpecError, index: int) -> SpecError:
    key = error.key
    if key and key.startswith(("variants", "sweep", "study.baseline")):
        key = f"phases[{index}].{key.removeprefix('study.')}"
    return SpecError(
        error.message, file=error.file, line=error.line, key=key, suggestion=error.suggestion
    )
