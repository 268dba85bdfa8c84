"""Each subcommand turns its flags into one frozen settings object and calls one entry point
of its room; the entry points run without a command line and print what the command prints;
a phased study file is a shape of a study file, read by the same call."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from harness.bisect.settings import BisectSettings, MeasureSettings, RegressSettings
from harness.cli import main
from harness.coordcheck.check import CoordCheckRun
from harness.errors import SpecError
from harness.report.comparison_view import CompareSettings, show_comparison
from harness.report.runs_view import RunsSettings, show_runs
from harness.report.write import ReportSettings
from harness.results.comparison import CompareOptions
from harness.results.export import ExportSettings
from harness.run.study import StudySettings
from harness.run.validate import ValidateSettings, validate_study
from harness.study.phases import PhasedStudy
from harness.study.source import StudySource
from harness.study.spec import StudySpec
from harness.tune.session import TuneSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = [
    StudySettings,
    ValidateSettings,
    CompareSettings,
    ReportSettings,
    RunsSettings,
    ExportSettings,
    TuneSettings,
    MeasureSettings,
    BisectSettings,
    RegressSettings,
    CoordCheckRun,
    StudySource,
]


def test_no_library_function_takes_a_namespace() -> None:
    """argparse stays in harness/commands/ and harness/cli.py: no other function has a
    parameter annotated as an argparse Namespace."""
    offenders = []
    for package in ("harness", "analysis"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("harness/commands/") or relative == "harness/cli.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    arguments = node.args
                    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                        if arg.annotation is not None and "Namespace" in ast.unparse(
                            arg.annotation
                        ):
                            offenders.append(f"{relative}:{node.lineno} {node.name}({arg.arg})")
    assert offenders == []


@pytest.mark.parametrize("settings", SETTINGS, ids=[s.__name__ for s in SETTINGS])
def test_settings_are_frozen_keyword_only_dataclasses(settings: type) -> None:
    params = settings.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert all(f.kw_only for f in dataclasses.fields(settings))


def test_a_study_file_is_read_in_its_shape() -> None:
    plain = StudySource(path=ROOT / "studies" / "bos_protection.toml", seeds=2).read()
    assert isinstance(plain, StudySpec) and plain.seeds == (0, 1)
    phased = StudySource(path=ROOT / "studies" / "ablation_phases.toml").read()
    assert isinstance(phased, PhasedStudy) and phased.name == "ablation_phases"
    with pytest.raises(SpecError, match="phased study"):
        StudySource(path=ROOT / "studies" / "ablation_phases.toml").load()


@pytest.mark.parametrize("study", ["bos_protection.toml", "ablation_phases.toml"])
def test_validate_entry_point_prints_what_the_command_prints(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(ROOT / "studies" / study)
    assert main(["validate", path, "--runs-dir", str(tmp_path), "--format", "json"]) == 0
    by_command = capsys.readouterr().out
    settings = ValidateSettings(
        source=StudySource(path=path), runs_dir=str(tmp_path), format="json"
    )
    assert validate_study(settings) == 0
    assert capsys.readouterr().out == by_command
    assert json.loads(by_command)["valid"] is True


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A finished-in-part study of command runs, as a study directory."""
    root = tmp_path / "legacy_study"
    shutil.copytree(ROOT / "tests" / "fixtures" / "legacy_study", root)
    return root / "runs" / "legacy"


def test_compare_and_runs_entry_points_print_what_the_commands_print(
    legacy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(legacy), "--format", "json", "--alpha", "0.1"]) == 0
    by_command = capsys.readouterr().out
    options = CompareOptions(alpha=0.1)
    assert show_comparison(CompareSettings(path=str(legacy), options=options, format="json")) == 0
    assert capsys.readouterr().out == by_command
    assert json.loads(by_command)["alpha"] == 0.1

    assert main(["runs", str(legacy), "--format", "json"]) == 0
    by_command = capsys.readouterr().out
    assert show_runs(RunsSettings(study_dir=str(legacy), format="json")) == 0
    assert capsys.readouterr().out == by_command
