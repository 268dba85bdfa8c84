"""A study file as the command line names it: its path, its ``--set`` overrides and
``--seeds``, read into the shape it has — a plain study, or a phased one.

A phased study is a shape of a study file, not another kind of input: every command that takes
a study file reads it through :meth:`StudySource.read` and gets a :class:`StudySpec` or a
:class:`PhasedStudy`; commands that run a single study (tune, bisect, regress) ask for
:meth:`StudySource.load`, which refuses a phased file with a line that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.study.phases import PhasedStudy, parse_phased
from harness.study.spec import StudySpec, load_study, located_in, parse_study, read_study_file

# What a study file holds: one study, or phases run in order, each an ordinary study.
StudyShape = StudySpec | PhasedStudy


@dataclass(frozen=True, kw_only=True)
class StudySource:
    """A study file and what the command line lays over it.

    Attributes:
        path: the TOML study file, as it was named (shown as given, e.g. in a run list).
        overrides: ``--set`` assignments such as ``base.train.steps=50``, in order.
        seeds: ``--seeds``: a count or a list that replaces ``study.seeds``; None keeps it.
    """

    path: str | Path
    overrides: tuple[str, ...] = ()
    seeds: int | tuple[int, ...] | None = None

    def read(self) -> StudyShape:
        """The study file validated in the shape it has.

        Returns:
            The :class:`PhasedStudy` of a file with ``[[phases]]`` (every phase validated),
            else its :class:`StudySpec`.

        Raises:
            SpecError: a missing file, bad TOML, or any invalid key or value.
        """
        raw, text = read_study_file(Path(self.path), overrides=self.overrides, seeds=self.seeds)
        if "phases" in raw:
            return parse_phased(raw, source=Path(self.path), text=text)
        with located_in(Path(self.path), text):
            return parse_study(raw, source=Path(self.path))

    def load(self) -> StudySpec:
        """The study file as one study (see :func:`harness.study.spec.load_study`).

        Raises:
            SpecError: as :meth:`read`, and for a phased study file.
        """
        return load_study(self.path, overrides=self.overrides, seeds=self.seeds)
