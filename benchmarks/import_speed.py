"""How fast ``harness import-runs`` imports a big pile of runs (issue 35: 500 local runs x 5,000
logged steps in at most 30 s on a 2-core CPU).

    python benchmarks/import_speed.py [--source lightning] [--runs 500] [--steps 5000]
        [--logs DIR]

Writes ``--runs`` runs (3 variants of ``model.attn`` x seeds) of ``--steps`` steps each, two
metrics (``train/loss``, ``val_loss``) per step, in the layout of ``--source``, then times, each
in a fresh process as a user runs it: the first import, and a re-import (nothing changed).
Prints the wall times, the CPU time of the import's processes (user + system, its reading
processes included: steadier than the wall time on a shared machine) and the 1-minute load
average before each. ``--logs DIR`` keeps the written logs there and reuses them next time
(writing 500 wandb runs takes half an hour).

- ``lightning``: Lightning CSVLogger folders (``<attn>-s<seed>/version_0/metrics.csv`` and
  ``hparams.yaml``), written directly as the plain CSV/YAML files they are (not through
  Lightning, which would take minutes for 500 runs).
- ``wandb``: offline runs written by ``wandb`` itself (about 4 s per 5,000-step run to write:
  keep ``--runs`` small; the figure per run scales).
- ``tensorboard``: event files written by ``torch.utils.tensorboard.SummaryWriter``.
- ``mlflow``: a file store (``mlruns``) written by MLflow's own client, 1,000 values a
  ``log_batch``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("mha", "gqa", "mqa")


def runs_of(count: int) -> list[tuple[str, int]]:
    """(variant, seed) of ``count`` runs: the variants take turns."""
    return [(VARIANTS[i % len(VARIANTS)], i // len(VARIANTS)) for i in range(count)]


def curve(variant: str, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, VARIANTS.index(variant)])
    step = np.arange(steps)
    val = 3.0 * np.exp(-step / steps * 2) + 1.0 + rng.normal(0, 0.01, steps)
    return step, val - 0.05, val


def write_lightning(root: Path, runs: int, steps: int) -> None:
    for variant, seed in runs_of(runs):
        folder = root / f"{variant}-s{seed}" / "version_0"
        folder.mkdir(parents=True)
        step, train, val = curve(variant, seed, steps)
        lines = ["step,train/loss,val_loss"]
        lines += [f"{s},{t:.6f},{v:.6f}" for s, t, v in zip(step, train, val, strict=True)]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
        (folder / "hparams.yaml").write_text(
            f"model:\n  attn: {variant}\n  n_layer: 2\noptim:\n  lr: 0.0003\nseed: {seed}\n"
        )


def write_wandb(root: Path, runs: int, steps: int) -> None:
    os.environ["WANDB_SILENT"] = "true"
    import wandb

    for variant, seed in runs_of(runs):
        run = wandb.init(
            project="bench",
            dir=str(root),
            mode="offline",
            config={"model": {"attn": variant}, "seed": seed},
        )
        step, train, val = curve(variant, seed, steps)
        for s, t, v in zip(step, train, val, strict=True):
            run.log({"train/loss": float(t), "val_loss": float(v)}, step=int(s))
        run.finish()


def write_tensorboard(root: Path, runs: int, steps: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for variant, seed in runs_of(runs):
        writer = SummaryWriter(log_dir=str(root / f"attn={variant},seed={seed}"))
        step, train, val = curve(variant, seed, steps)
        for s, t, v in zip(step, train, val, strict=True):
            writer.add_scalar("train/loss", float(t), int(s))
            writer.add_scalar("val_loss", float(v), int(s))
        writer.close()


def write_mlflow(root: Path, runs: int, steps: int) -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=root.resolve().as_uri())
    experiment = client.create_experiment("bench")
    for variant, seed in runs_of(runs):
        run = client.create_run(experiment, run_name=f"{variant}-s{seed}")
        run_id = run.info.run_id
        params = [Param("model.attn", variant), Param("seed", str(seed))]
        client.log_batch(run_id, params=params)
        step, train, val = curve(variant, seed, steps)
        metrics = [
            Metric(name, float(value), 0, int(s))
            for s, t, v in zip(step, train, val, strict=True)
            for name, value in (("train/loss", t), ("val_loss", v))
        ]
        for start in range(0, len(metrics), 1000):  # MLflow takes 1,000 metrics a batch
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        client.set_terminated(run_id)


WRITERS = {
    "lightning": write_lightning,
    "wandb": write_wandb,
    "tensorboard": write_tensorboard,
    "mlflow": write_mlflow,
}


def timed_import(source: str, logs: Path, study: Path) -> tuple[float, float, str]:
    """Wall time, CPU time and first output line of one ``harness import-runs`` in a fresh
    process."""
    command = [sys.executable, "-m", "harness", "import-runs", source, str(logs), "-o", str(study)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"import failed: {result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, result.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=sorted(WRITERS), default="lightning")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep the written logs here and reuse them"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        logs = args.logs or Path(scratch) / "logs"
        if logs.exists():
            print(f"reusing the {args.source} logs in {logs}")
        else:
            start = time.perf_counter()
            WRITERS[args.source](logs, args.runs, args.steps)
            took = time.perf_counter() - start
            print(f"wrote {args.runs} {args.source} runs x {args.steps} steps in {took:.1f} s")
        study = Path(scratch) / "study"
        for label in ("first import", "re-import (nothing new)"):
            load = os.getloadavg()[0]
            elapsed, cpu, line = timed_import(args.source, logs, study)
            print(
                f"{label}: {elapsed:.1f} s wall, {cpu:.1f} s CPU "
                f"(load average {load:.2f} before) -- {line}"
            )


if __name__ == "__main__":
    main()
