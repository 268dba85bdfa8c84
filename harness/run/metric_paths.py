"""Metric sources that would read harness's own files: refused before any run is planned.

The study file's ``metrics.file`` and ``metrics.log`` may point into the run's folder
(``{run_dir}/results.json``), but not at a file harness itself writes there: it would be read
as the script's results, and cleared with a failed attempt's leftovers. Which names those are
is the store's to say (:func:`harness.store.layout.harness_file_names`), so the check lives
here, where the study meets the store, rather than in the study reader.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from harness.errors import SpecError
from harness.store.layout import harness_file_names, names_harness_file
from harness.study.spec import StudySpec

_PATH_SOURCES = ("file", "log")


def refuse_harness_files(spec: StudySpec) -> None:
    """Raise when a metric source of ``spec`` names a file harness writes in a run's folder.

    Raises:
        SpecError: naming the key (``base.metrics.file``, ``variants.NAME.metrics.log``, ...)
            and the path, with the names to avoid and what to write instead.
    """
    for key, path in _declared_paths(spec):
        name = names_harness_file(path)
        if name is not None:
            raise SpecError(
                f"{path!r} is a file harness itself writes in the run's folder ("
                f"{', '.join(sorted(harness_file_names()))}, or a temporary .name.*.tmp); have "
                "the script write its results under another name, e.g. "
                "'{run_dir}/results.json' (a script's own metrics.jsonl is read without "
                "declaring it)",
                key=key,
            )


def _declared_paths(spec: StudySpec) -> Iterator[tuple[str, str]]:
    """(dotted key, path) of every ``metrics.file`` / ``metrics.log`` the study file wrote."""
    tables: list[tuple[str, Mapping[str, Any]]] = [("base", spec.base)]
    tables += [(f"variants.{v.name}", v.overrides) for v in spec.variants]
    for where, table in tables:
        metrics = table.get("metrics") if isinstance(table, Mapping) else None
        if not isinstance(metrics, Mapping):
            continue
        for source in _PATH_SOURCES:
            value = metrics.get(source)
            for path in [value] if isinstance(value, str) else value or ():
                if isinstance(path, str):
                    yield f"{where}.metrics.{source}", path
