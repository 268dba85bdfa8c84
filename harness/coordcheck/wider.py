"""``harness coordcheck --wider-is-better``: short training runs at fixed HPs across widths.

Under a working muP, a wider model trained with the same HPs is at least as good; a loss that
gets worse with width is what exposed the notebook's broken muP. Each (width, seed) trains
``steps`` steps on fresh batches through the trainer's ``prepare`` (optimizer and schedule
included); its loss is the mean training loss of the last ``window`` steps. The verdict is
``analysis.coordcheck.wider_is_better``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from analysis.coordcheck import WiderResult
from analysis.coordcheck import wider_is_better as judge
from harness.coordcheck.settings import CoordCheckSettings, width_config
from harness.training.loop import prepare, to_device


def final_losses(settings: CoordCheckSettings, *, window: int = 10) -> pl.DataFrame:
    """One row per (width, seed): ``width``, ``seed``, ``loss`` (mean of the last ``window``
    training losses)."""
    rows = []
    for width in settings.widths:
        for seed in range(settings.seeds):
            setup = prepare(width_config(settings, width), seed=seed, device=settings.device)
            batches = to_device(setup.data.train(seed, settings.batch_size), settings.device)
            model, optimizer, scheduler = setup.raw_model, setup.optimizer, setup.scheduler
            model.train()
            losses = []
            for _ in range(settings.steps):
                batch = next(batches)
                loss = model(batch[:, :-1], batch[:, 1:]).loss
                assert loss is not None
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                losses.append(loss.item())
            tail = losses[-window:]
            rows.append({"width": width, "seed": seed, "loss": sum(tail) / len(tail)})
    return pl.DataFrame(rows)


def wider_is_better(settings: CoordCheckSettings) -> WiderResult:
    """Train every (width, seed) and judge whether the loss gets worse with width."""
    return judge(final_losses(settings))


def print_wider(
    result: WiderResult, settings: CoordCheckSettings, *, out_dir: Path, console: Console
) -> None:
    """Per-width mean loss, the slope against log2(width), the verdict; writes the CSV."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result.losses.write_csv(out_dir / "wider_is_better.csv")
    table = Table(
        title=f"wider is better — {settings.parametrization}, {settings.attention}, "
        f"{settings.steps} steps at lr {settings.lr:g}, {settings.seeds} seeds",
        title_justify="left",
    )
    table.add_column("width", justify="right")
    table.add_column("final train loss (mean over seeds)", justify="right")
    for width, loss in result.per_width.iter_rows():
        table.add_row(str(width), f"{loss:.4f}")
    console.print(table)
    console.print(
        f"loss change per doubling of width: {result.slope:+.4f} "
        f"({1 - result.alpha:.0%} CI [{result.ci_low:+.4f}, {result.ci_high:+.4f}])"
    )
    if result.passed:
        console.print("[bold green]PASS[/]: the loss does not get worse with width")
    else:
        console.print(f"[bold red]FAIL[/]: {result.reason}")
    console.print(f"written to {out_dir}/wider_is_better.csv")
