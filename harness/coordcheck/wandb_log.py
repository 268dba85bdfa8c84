"""A coordinate check logged to wandb, as a study is: one wandb run per (width, seed), grouped
by check, its mean |x| per activation (and layer) at every step as the history, and the check's
verdict in every run's summary.

The switch is the study's (:func:`harness.run.runner.resolve_wandb` with the ``[wandb]``
defaults): on unless ``--no-wandb`` or ``WANDB_MODE=disabled``; offline without an API key
(``wandb sync`` uploads later), online with one; project ``$WANDB_PROJECT`` else
"coordcheck"; job type "coordcheck". The files go under the check's folder
(``<out>/wandb/offline-run-*``). A wandb failure is printed and never changes the verdict.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from harness.run.runner import resolve_wandb
from harness.study.spec import WandbSettings
from harness.worker.wandb_sink import LoggedRun, log_runs

PROJECT = "coordcheck"  # the project when $WANDB_PROJECT names none (a check has no study)


def coordcheck_wandb(*, enabled: bool) -> dict[str, Any]:
    """The wandb settings of a check: the study defaults, ``enabled=False`` for ``--no-wandb``."""
    return resolve_wandb(WandbSettings(), name=PROJECT, disabled=not enabled, job_type="coordcheck")


def history_key(activation: str, layer: int | None) -> str:
    """The wandb key of an activation's mean |x|: ``mean_abs/<activation>[/<layer>]``."""
    return f"mean_abs/{activation}" if layer is None else f"mean_abs/{activation}/{layer}"


def check_group(name: str) -> str:
    """The wandb group of one invocation: the check's folder name and the UTC time."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def log_coordcheck(
    records: pl.DataFrame,
    summary: dict[str, Any],
    *,
    wandb: dict[str, Any],
    group: str,
    config: dict[str, Any],
    out_dir: Path,
) -> int:
    """Log one wandb run per (width, seed) of ``records``.

    Args:
        records: every measured row (``width, seed, step, activation, layer, value``; the
            "loss" rows become the ``loss`` key).
        summary: the check's JSON (verdict, exit code, ...); its scalar fields, and the worst
            exponent's activation, layer, slope and interval (``check/worst_*``), go into every
            run's summary, prefixed ``check/``.
        wandb: :func:`coordcheck_wandb`.
        group: the wandb group (:func:`check_group`).
        config: the check's settings, stored as each run's config beside its width and seed.
        out_dir: wandb's files go under it.

    Returns:
        How many wandb runs were started (0 when wandb is off).
    """
    scalars = {
        f"check/{key}": value
        for key, value in summary.items()
        if isinstance(value, str | int | float | bool) or value is None
    }
    if summary.get("worst"):  # what broke, readable in wandb's run table
        worst = summary["worst"][0]
        scalars |= {
            f"check/worst_{key}": worst.get(key)
            for key in ("activation", "layer", "slope", "ci_low", "ci_high", "status")
        }
    pairs = records.select("width", "seed").unique().sort(["width", "seed"])
    runs = (
        LoggedRun(
            key=f"w{width}",
            seed=seed,
            config={"width": width, **config},
            summary=scalars | {"width": width, "seed": seed},
            history=_history(records.filter((pl.col("width") == width) & (pl.col("seed") == seed))),
        )
        for width, seed in pairs.iter_rows()
    )
    return log_runs(runs, wandb=wandb, group=group, run_dir=out_dir)


def _history(of: pl.DataFrame) -> list[dict[str, Any]]:
    """One (width, seed)'s wandb rows: per step, mean |x| of every activation and the loss."""
    rows = []
    for step in sorted(set(of["step"].to_list())):
        row: dict[str, Any] = {"step": step}
        for activation, layer, value in (
            of.filter(pl.col("step") == step).select("activation", "layer", "value").iter_rows()
        ):
            key = "loss" if activation == "loss" else history_key(activation, layer)
            row[key] = value
        rows.append(row)
    return rows
