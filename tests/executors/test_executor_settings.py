"""The ``[executor]`` table, its CLI flags, and choosing an executor: no cluster needed."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.commands import study as study_command
from harness.commands._executor import executor_overrides
from harness.errors import SpecError, UserError
from harness.executors import make_executor
from harness.executors.local import LocalExecutor
from harness.run.study import executor_of
from harness.study.executor import ExecutorSettings
from harness.study.spec import StudySpec, load_study

STUDY = """\
[study]
name = "s"
seeds = 1

[base]
command = "true"

[variants.a]
{executor}
"""


def write_study(tmp_path: Path, executor: str = "") -> Path:
    path = tmp_path / "s.toml"
    path.write_text(STUDY.format(executor=executor))
    return path


def executor_settings(spec: StudySpec, args: argparse.Namespace) -> ExecutorSettings:
    """The executor settings ``harness study`` builds: the flags laid over ``[executor]``."""
    return executor_of(spec, executor_overrides(args))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    study_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_table_is_validated_into_settings(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        '[executor]\nkind = "slurm"\npartition = "gpu"\ngpus_per_run = 2\n'
        'setup = ["module load cuda"]\nslurm_options = { exclude = "n1" }',
    )
    spec = load_study(path)
    settings = executor_settings(spec, parse([str(path)]))
    assert settings == ExecutorSettings(
        kind="slurm",
        partition="gpu",
        gpus_per_run=2,
        setup=("module load cuda",),
        slurm_options={"exclude": "n1"},
    )


def test_flags_override_the_table_and_share_its_names(tmp_path: Path) -> None:
    path = write_study(tmp_path, '[executor]\nkind = "slurm"\npartition = "cpu"\ntime_min = 30')
    flags = "--executor ray --partition gpu --gpus-per-run 1 --cpus-per-run 4 --time-min 90"
    args = parse([str(path), *flags.split(), "--ray-address", "auto", "--jobs", "3"])
    settings = executor_settings(load_study(path), args)
    assert (settings.kind, settings.partition, settings.gpus_per_run) == ("ray", "gpu", 1)
    assert (settings.cpus_per_run, settings.time_min, settings.jobs) == (4, 90, 3)
    assert settings.ray_address == "auto"


def test_set_reaches_the_table(tmp_path: Path) -> None:
    spec = load_study(write_study(tmp_path), overrides=["executor.submitit_cluster=local"])
    assert executor_settings(spec, parse(["x"])).submitit_cluster == "local"


def test_no_table_means_local(tmp_path: Path) -> None:
    path = write_study(tmp_path)
    assert executor_settings(load_study(path), parse([str(path)])) == ExecutorSettings()


def test_unknown_key_names_the_closest(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as error:
        load_study(write_study(tmp_path, '[executor]\npartiton = "gpu"'))
    assert error.value.key == "executor.partiton"
    assert "executor.partition" in str(error.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [("cpus_per_run = 0", "cpus_per_run"), ('kind = "slrum"', "kind"), ("jobs = 0", "jobs")],
)
def test_bad_values_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(SpecError) as error:
        load_study(write_study(tmp_path, f"[executor]\n{line}"))
    assert error.value.key == f"executor.{key}"


def test_make_executor_local_ignores_settings() -> None:
    executor = make_executor("local", settings=ExecutorSettings(), jobs=3, threads=1)
    assert isinstance(executor, LocalExecutor) and executor.capacity == 3


def test_unknown_executor_suggests() -> None:
    with pytest.raises(UserError, match="did you mean 'slurm'"):
        make_executor("slurn")


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="a Slurm cluster is here")
def test_slurm_without_sbatch_explains_the_rehearsal() -> None:
    pytest.importorskip("submitit")
    with pytest.raises(UserError, match="submitit_cluster=local"):
        make_executor("slurm", settings=ExecutorSettings(kind="slurm"))


def test_parsing_a_study_imports_neither_submitit_nor_ray(tmp_path: Path) -> None:
    path = write_study(tmp_path, '[executor]\nkind = "ray"')
    code = (
        "import sys; from harness.study.spec import load_study; "
        f"load_study({str(path)!r}); "
        "assert not {'ray', 'submitit'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
