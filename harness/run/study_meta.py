"""The description a study directory keeps of the study that filled it (``StudyMeta``).

It is built here, where running meets storing: ``harness.store`` knows the record but not
the study spec, and ``harness.study`` knows the spec but not the store.
"""

from __future__ import annotations

from pathlib import Path

from harness.store import FactorialMeta, SearchMeta, StudyMeta
from harness.study.spec import StudySpec


def study_meta(
    spec: StudySpec, *, updated_at: float | None = None, search: SearchMeta | None = None
) -> StudyMeta:
    """The stored description of ``spec``.

    Args:
        spec: the validated study.
        updated_at: when the runner (re)wrote it, seconds since the epoch.
        search: for ``harness tune``, where its Optuna search lives.

    Returns:
        The study's name, metric, direction, seeds, baseline and variants, its base and
        resolved variant configs as JSON data, its source file and its sweep points.
    """
    data = spec.to_dict()  # the spec's own JSON form: configs made JSON-safe, sweep points
    return StudyMeta(
        name=spec.name,
        description=spec.description,
        metric=spec.metric,
        direction=spec.direction,
        seeds=spec.seeds,
        baseline=spec.baseline,
        variants=tuple(variant.name for variant in spec.variants),
        base=data["base"],
        variant_configs=data["variant_configs"],
        # absolute, so that the description names the file whatever the current directory
        source=str(Path(data["source"]).absolute()) if data["source"] else None,
        sweep=data["sweep"],
        updated_at=updated_at,
        search=search,
        factorial=FactorialMeta.from_dict(data["factorial"]) if data.get("factorial") else None,
    )
