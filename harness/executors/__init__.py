"""Executors start workers for planned runs: locally, on Slurm (submitit) or on Ray.

Every executor starts ``python -m harness.worker RUN_DIR`` (or its in-process equivalent) for
each run, and the worker writes the run's record into the shared study directory, so results
are identical in content whichever executor ran them.
"""

from harness.executors._base import Executor, RunPlan

__all__ = ["Executor", "RunPlan", "make_executor"]


def make_executor(name: str, **options: object) -> Executor:
    """The executor called ``name`` ("local", "slurm" or "ray"), built with ``options``."""
    if name == "local":
        from harness.executors.local import LocalExecutor

        return LocalExecutor(**options)  # type: ignore[arg-type]
    from harness.errors import UserError, closest

    hint = closest(name, ("local", "slurm", "ray"))
    raise UserError(f"unknown executor '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""))
