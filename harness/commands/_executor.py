"""``--executor`` and the resource flags of ``harness study``, laid over ``[executor]``.

Each flag shares its name with a field of
:class:`~harness.study.executor.ExecutorSettings` (``--gpus-per-run``, ``gpus_per_run``); the
one exception is ``--executor``, which sets ``kind``. Flags win over the study's table:
:func:`harness.run.study.executor_of` lays the flags given over it.
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.study.executor import EXECUTOR_KINDS

# CLI flag (argparse dest) -> ExecutorSettings field.
_FLAGS = {
    "executor": "kind",
    "ray_address": "ray_address",
    "partition": "partition",
    "account": "account",
    "qos": "qos",
    "gpus_per_run": "gpus_per_run",
    "cpus_per_run": "cpus_per_run",
    "time_min": "time_min",
    "jobs": "jobs",
}


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor`` and the resource flags; each overrides the study's ``[executor]`` key."""
    group = parser.add_argument_group(
        "executor", "where runs execute; each flag overrides the study's [executor] table"
    )
    group.add_argument(
        "--executor",
        choices=EXECUTOR_KINDS,
        default=None,
        help="local processes (default), Slurm through submitit, or Ray",
    )
    group.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: start one here)"
    )
    group.add_argument("--partition", default=None, help="Slurm partition")
    group.add_argument("--account", default=None, help="Slurm account")
    group.add_argument("--qos", default=None, help="Slurm quality of service")
    group.add_argument(
        "--gpus-per-run", type=_at_least(0), default=None, help="GPUs per run (Slurm, Ray)"
    )
    group.add_argument(
        "--cpus-per-run", type=_at_least(1), default=None, help="CPU cores per run (Slurm, Ray)"
    )
    group.add_argument(
        "--time-min", type=_at_least(1), default=None, help="Slurm time limit per run, minutes"
    )


def executor_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The executor flags given (and ``--jobs``), by ``ExecutorSettings`` field name.

    Args:
        args: the parsed command line; a flag left unset is left out (keeps the study's value).

    Returns:
        field name -> value; argparse has checked each value, ``ExecutorSettings`` checks
        them again when they are laid over the study's table.
    """
    return {
        field: getattr(args, flag)
        for flag, field in _FLAGS.items()
        if getattr(args, flag, None) is not None
    }


def _at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse
