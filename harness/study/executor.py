"""Where runs execute and with what resources: the ``[executor]`` table of a study file.

::

    [executor]
    kind = "slurm"          # "local" (default), "slurm" or "ray"     --executor
    partition = "gpu"       #                                          --partition
    gpus_per_run = 1        #                                          --gpus-per-run
    cpus_per_run = 8        #                                          --cpus-per-run
    time_min = 120          #                                          --time-min

A CLI flag, the TOML key and the field share one name (``--gpus-per-run``, ``gpus_per_run``);
the one exception is ``--executor``, which sets ``kind``. Flags win over the table
(``harness.commands._executor``), and any key can also be set with ``--set executor.KEY=VALUE``.
The table is not part of any run's config, so moving a study between executors changes no
config hash: finished runs stay finished.

Parsed at the door with the rest of the study, so it stays cheap: no submitit, no ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.schema import from_mapping, require

EXECUTOR_KINDS = ("local", "slurm", "ray")


@dataclass(frozen=True, kw_only=True)
class ExecutorSettings:
    """Resources and placement of a study's runs.

    Attributes:
        kind: which executor starts the workers: "local", "slurm" or "ray".
        jobs: runs in flight at once (``--jobs``). Local: default one per GPU or CPU core.
            Slurm: default 256, all queued at once. Ray: default what the cluster's CPUs and
            GPUs hold at start-up (set it on an autoscaling cluster).
        cpus_per_run: CPU cores per run (Slurm ``--cpus-per-task``, Ray ``num_cpus``); also
            the worker's torch threads unless ``--threads`` says otherwise.
        gpus_per_run: GPUs per run (Slurm ``--gpus-per-node``, Ray ``num_gpus``).
        mem_gb: memory per run in GB (Slurm ``--mem``); the cluster default when unset.
        time_min: Slurm time limit per run, in minutes. A run that hits it is not requeued
            (it would start over and hit it again); preempted runs are.
        partition: Slurm partition.
        account: Slurm account.
        qos: Slurm quality of service.
        constraint: Slurm node constraint (``--constraint``).
        setup: shell lines run in the Slurm job before the worker (``module load ...``,
            ``source .venv/bin/activate``).
        slurm_options: further sbatch options, e.g. ``{gres = "gpu:a100:1", exclude = "n12"}``.
        submitit_cluster: "slurm" submits with sbatch; "local" runs the same submitit jobs
            as processes on this machine (a rehearsal of the Slurm path without a cluster).
        ray_address: the Ray cluster to connect to ("auto", "HOST:PORT" or
            "ray://HOST:10001"); unset starts a Ray instance on this machine.
        max_retries: Ray: how many times a run whose node or worker process died is retried.
    """

    kind: Literal["local", "slurm", "ray"] = "local"
    jobs: int | None = None
    cpus_per_run: int = 1
    gpus_per_run: int = 0
    mem_gb: float | None = None
    time_min: int = 60
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    setup: tuple[str, ...] = ()
    slurm_options: dict[str, Any] = field(default_factory=dict)
    submitit_cluster: Literal["slurm", "local"] = "slurm"
    ray_address: str | None = None
    max_retries: int = 3

    def __post_init__(self) -> None:
        require(self.jobs is None or self.jobs >= 1, "jobs", "must be at least 1")
        require(self.cpus_per_run >= 1, "cpus_per_run", "must be at least 1")
        require(self.gpus_per_run >= 0, "gpus_per_run", "must be 0 or more")
        require(self.mem_gb is None or self.mem_gb > 0, "mem_gb", "must be positive")
        require(self.time_min >= 1, "time_min", "must be at least 1 minute")
        require(self.max_retries >= 0, "max_retries", "must be 0 or more")


def parse_executor(table: Mapping[str, Any]) -> ExecutorSettings:
    """The ``[executor]`` table, validated.

    Raises:
        SpecError: an unknown key (with the closest valid one) or a bad value, naming
            ``executor.<key>``.
    """
    return from_mapping(ExecutorSettings, table, where="executor")
