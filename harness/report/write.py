"""``harness report``'s one entry point: the report of a study (or of each phase of a phased
study) written as ``report.html``, ``report.md`` and its ``report_*.png`` figures; of a saved
coordinate check (a folder holding ``coordcheck.json``), its verdict and plot; a commits study
that ``harness bisect`` / ``regress`` measured gets their result first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.results.comparison import CompareOptions

if TYPE_CHECKING:
    from harness.report.page import Report


@dataclass(frozen=True, kw_only=True)
class ReportSettings:
    """What ``harness report`` was asked.

    Attributes:
        path: a study directory or name (a phased study's root included), a results or curves
            file, or None for the most recent study.
        runs_dir: the runs root; None for the default.
        options: how to compare (metric, baseline, direction, alpha, margin, smoothing ...).
        output_dir: where to write; None for the study directory, or the file's directory.
    """

    path: str | None = None
    runs_dir: str | None = None
    options: CompareOptions = field(default_factory=CompareOptions)
    output_dir: Path | None = None


def write_report(settings: ReportSettings) -> int:
    """Build the report and write it, saying where on stdout.

    Args:
        settings: the input, the comparison options and where to write.

    Returns:
        0 (bad input raises).

    Raises:
        UserError: unreadable input, anything the analysis rejects, a file that cannot be
            written.
    """
    from harness.report.commits_view import commit_sections_of
    from harness.report.html import study_report
    from harness.results.comparison import compare_prepared, prepare
    from harness.results.load import phased_root

    options = settings.options
    check = coordcheck_dir(settings.path, runs_dir=settings.runs_dir)
    if check is not None:
        return _write_coordcheck(check, settings.output_dir)
    root = phased_root(settings.path, runs_dir=settings.runs_dir)
    if root is not None:
        return _write_phased(root, options, settings.output_dir)
    prepared = prepare(settings.path, options, runs_dir=settings.runs_dir)
    source = prepared.inputs.source
    lead = commit_sections_of(source) if source.is_dir() else None
    report = study_report(prepared, compare_prepared(prepared, options), options, lead=lead)
    out_dir = settings.output_dir or (source if source.is_dir() else source.parent)
    _write(report, out_dir)
    print(f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'}")
    return 0


def coordcheck_dir(path: str | None, *, runs_dir: str | None = None) -> Path | None:
    """The folder of a saved coordinate check that ``path`` names (the folder, or its name
    under the runs root or under ``<runs root>/coordcheck/``); None when it names none."""
    from harness.store import is_study_dir, runs_root
    from harness.store.command_results import command_result_path, coordcheck_folder

    if path is None:
        return None
    root = runs_root(runs_dir)
    for folder in (Path(path), root / path, coordcheck_folder(root, path)):
        if command_result_path(folder, "coordcheck").is_file() and not is_study_dir(folder):
            return folder
    return None


def _write_coordcheck(folder: Path, output_dir: Path | None) -> int:
    from harness.errors import UserError
    from harness.report.coordcheck_view import coordcheck_report
    from harness.store.command_results import command_result_path, read_command_result

    result = read_command_result(folder, "coordcheck")
    if result is None:  # removed since it was found
        raise UserError(f"{folder} holds no coordinate check result")
    try:
        report = coordcheck_report(result, source=folder)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(
            f"{command_result_path(folder, 'coordcheck')}: not a complete coordinate check "
            f"result ({type(error).__name__}: {error}); run harness coordcheck again"
        ) from None
    out_dir = output_dir or folder
    _write(report, out_dir)
    print(f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'}")
    return 0


def _write_phased(root: Path, options: CompareOptions, output_dir: Path | None) -> int:
    from harness.report.phased import build_phased_report

    out_dir = output_dir or root
    report, phases = build_phased_report(root, options, out_dir)
    _write(report, out_dir)
    for name, phase_report in phases.items():
        _write(phase_report, out_dir / name)
    print(
        f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'} "
        f"({len(phases)} phase report(s) beside them)"
    )
    return 0


def _write(report: Report, out_dir: Path) -> None:
    """Write the page, the markdown and its figures, each whole or not at all (a full disk
    leaves no half page behind).

    Raises:
        UserError: a file cannot be written, naming it (and ``--output-dir``).
    """
    from harness.errors import UserError, os_error_message
    from harness.store.atomic import atomic_write_bytes, atomic_write_text

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in report.images.items():  # the figures first: the pages link them
            atomic_write_bytes(out_dir / name, data)
        atomic_write_text(out_dir / "report.md", report.markdown)
        atomic_write_text(out_dir / "report.html", report.html)
    except OSError as error:
        message = os_error_message(error, elsewhere="--output-dir")
        raise UserError(f"cannot write the report: {message}") from None
