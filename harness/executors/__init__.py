"""Executors start workers for planned runs: locally, on Slurm (submitit) or on Ray.

Every executor starts ``python -m harness.worker RUN_DIR`` (or its in-process equivalent) for
each run, and the worker writes the run's record into the shared study directory, so results
are identical in content whichever executor ran them.
"""

from harness.executors._base import Executor, RunPlan

__all__ = ["Executor", "RunPlan", "make_executor"]


def make_executor(name: str, **options: object) -> Executor:
    """The executor called ``name`` ("local", "slurm" or "ray"), built with ``options``.

    Every executor takes ``jobs``, ``threads`` and ``device``; Slurm and Ray also take
    ``settings`` (an :class:`~harness.study.executor.ExecutorSettings`), which the local
    executor ignores. Slurm and Ray are imported only when chosen (``pip install
    'harness[scale]'`` provides submitit and ray).
    """
    if name == "local":
        from harness.executors.local import LocalExecutor

        options.pop("settings", None)
        return LocalExecutor(**options)  # type: ignore[arg-type]
    if name == "slurm":
        _require("submitit", name)
        from harness.executors.slurm import SlurmExecutor

        return SlurmExecutor(**options)  # type: ignore[arg-type]
    if name == "ray":
        _require("ray", name)
        from harness.executors.ray_executor import RayExecutor

        return RayExecutor(**options)  # type: ignore[arg-type]
    from harness.errors import UserError, closest

    hint = closest(name, ("local", "slurm", "ray"))
    raise UserError(f"unknown executor '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""))


def _require(module: str, executor: str) -> None:
    import importlib.util

    from harness.errors import UserError

    if importlib.util.find_spec(module) is None:
        raise UserError(
            f"--executor {executor} needs {module}: pip install 'harness[scale]' "
            f"(or pip install {module})"
        )
