"""A study's search and the variant each trial runs. Imports no optuna.

The ``[search]`` table itself is parsed with the study, at the door
(:mod:`harness.study.search`); this module only asks for it and builds trials from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import SpecError
from harness.study.search import SearchConfig
from harness.study.spec import StudySpec, VariantSpec
from harness.study.variant import derive_variant


def search_of(spec: StudySpec) -> SearchConfig:
    """The study's search settings.

    Raises:
        SpecError: the study file has no ``[search]`` table.
    """
    if spec.search is None:
        raise SpecError(
            "has no [search] table; add one to tune (see docs/tuning.md)", file=spec.source
        )
    return spec.search


def trial_variant(
    spec: StudySpec, search: SearchConfig, name: str, params: Mapping[str, Any]
) -> VariantSpec:
    """The variant a trial runs: the searched variant with the dotted ``params`` set.

    It is resolved exactly like a variant of the study file, so a trial config is a study
    config.
    """
    return derive_variant(name, spec.base, spec.variant(search.variant), params)
