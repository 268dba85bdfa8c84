"""Every runtime dependency in pyproject.toml is imported by the code that ships.

A dependency nothing imports costs every user a download (pyarrow did: 55 MB of wheel, 170 MB
installed, while polars reads and writes parquet itself). The import names come from the
source with ``ast``, so a dependency imported only inside a function counts too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("harness", "models", "kernels", "analysis")  # [tool.setuptools.packages.find]
# distribution name -> the module it is imported as, where the two differ
MODULE_OF = {"pyyaml": "yaml", "scikit-learn": "sklearn", "pillow": "PIL", "pydoe3": "pyDOE3"}
MODULE_OF["mlflow-skinny"] = "mlflow"  # MLflow's client without its server
MODULE_OF["protobuf"] = "google"  # google.protobuf


def runtime_dependencies() -> list[str]:
    """The distribution names of ``[project] dependencies`` (versions and markers dropped)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    ]


def imported_modules() -> set[str]:
    """The top-level module names imported anywhere in the shipped packages."""
    names: set[str] = set()
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names


def test_the_dependency_list_is_read() -> None:
    dependencies = runtime_dependencies()
    assert "polars" in dependencies and "torch" in dependencies


@pytest.mark.parametrize("dependency", runtime_dependencies())
def test_every_runtime_dependency_is_imported(dependency: str) -> None:
    module = MODULE_OF.get(dependency, dependency.replace("-", "_"))
    assert module.lower() in {name.lower() for name in imported_modules()}, (
        f"pyproject.toml depends on {dependency!r} but nothing in {', '.join(SHIPPED)} imports "
        f"{module!r}: drop it, or move it to an optional extra"
    )


def declared_dependencies() -> set[str]:
    """Module names of every dependency, runtime or in an optional extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    names = (re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower() for spec in specs)
    return {MODULE_OF.get(name, name.replace("-", "_")).lower() for name in names}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    # the other direction: code that imports a package nobody installs fails on a fresh install
    third_party = {
        module
        for module in imported_modules()
        if module not in sys.stdlib_module_names and module not in SHIPPED
    }
    undeclared = sorted(m for m in third_party if m.lower() not in declared_dependencies())
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_parquet_export_and_reading_work_without_pyarrow(tmp_path: Path) -> None:
    # polars writes and reads parquet natively; pyarrow made absent, as in a fresh install
    import shutil

    study = tmp_path / "legacy_study"
    shutil.copytree(ROOT / "tests" / "fixtures" / "legacy_study", study)
    script = (
        "import sys\n"
        "sys.modules['pyarrow'] = None  # import fails, find_spec says it is not installed\n"
        "from harness.cli import main\n"
        "assert main(['export', 'runs/legacy', '--format', 'parquet', '--full', '-o', 'r.parquet'])"
        " == 0\n"
        "assert main(['compare', 'r.parquet', '--metric', 'val_loss', '--format', 'json']) == 0\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=study, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"comparisons"' in result.stdout
    import polars as pl

    table = pl.read_parquet(study / "r.parquet")
    assert table.height == 6 and {"config_hash", "git_commit", "val_loss"} <= set(table.columns)
