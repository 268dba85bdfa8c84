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
each. This module is the plan; running the phases, deciding each and storing the decisions is
:mod:`harness.run.phased`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import SpecError, closest
from harness.study.spec import NAME_PATTERN, StudySpec, deep_merge, located_in, parse_study

PHASE_KEYS = ("name", "description", "baseline", "base_from", "variants", "sweep")


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

    def phase_spec(self, index: int, chosen: Mapping[str, str]) -> StudySpec:
        """The study of phase ``index``.

        Args:
            index: the phase's position in the study file.
            chosen: phase name -> the variant chosen in that phase, for the phases decided so
                far; a ``base_from`` phase not in it builds on that phase's baseline.

        Returns:
            The phase as an ordinary study named after the phase.
        """
        phase = self.phases[index]
        base = self._base_for(index, chosen)
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

    def _base_for(self, index: int, chosen: Mapping[str, str]) -> dict[str, Any]:
        phase = self.phases[index]
        source = phase.get("base_from")
        if source is None:
            return dict(self.raw.get("base", {}))
        earlier = next(i for i, p in enumerate(self.phases) if p["name"] == source)
        earlier_spec = self.phase_spec(earlier, chosen)
        variant = chosen.get(source, earlier_spec.baseline)
        return deep_merge(earlier_spec.base, earlier_spec.variant(variant).overrides)


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


def _in_phase(error: SpecError, index: int) -> SpecError:
    key = error.key
    if key and key.startswith(("variants", "sweep", "study.baseline")):
        key = f"phases[{index}].{key.removeprefix('study.')}"
    return SpecError(
        error.message, file=error.file, line=error.line, key=key, suggestion=error.suggestion
    )
