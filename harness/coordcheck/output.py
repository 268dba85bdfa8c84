"""What ``harness coordcheck`` leaves: a rich table of slopes, the raw CSV, a grid of plots.

Torch-free; matplotlib (Agg) is imported only when plotting.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from analysis.coordcheck import CoordCheckResult
from harness.coordcheck.settings import ACTIVATIONS, CoordCheckSettings


def slopes_table(result: CoordCheckResult, *, title: str) -> Table:
    """Activations (and layers) down, steps across; each cell the mean slope across seeds.

    Failing cells are red, uncertain ones (not shown within tolerance) yellow, judged cells
    within tolerance plain, unjudged (step 0) dim.
    """
    slopes = result.slopes
    steps = sorted(set(slopes["step"].to_list()))
    table = Table(title=title, title_justify="left")
    table.add_column("activation")
    table.add_column("layer", justify="right")
    for step in steps:
        table.add_column(f"s{step}", justify="right")
    table.add_column("95% CI, worst", justify="right")
    keys = slopes.select("activation", "layer").unique(maintain_order=True)
    for activation, layer in keys.iter_rows():
        rows = slopes.filter(
            (pl.col("activation") == activation)
            & (pl.col("layer").is_null() if layer is None else pl.col("layer") == layer)
        )
        cells = {}
        for row in rows.iter_rows(named=True):
            text = "nan" if not math.isfinite(row["slope"]) else f"{row['slope']:+.2f}"
            if row["status"] in ("grows", "shrinks", "not finite"):
                text = f"[bold red]{text}[/]"
            elif row["status"] == "uncertain":
                text = f"[yellow]{text}[/]"
            elif not row["judged"]:
                text = f"[dim]{text}[/]"
            cells[row["step"]] = text
        judged = rows.filter(pl.col("judged") & pl.col("slope").is_finite())
        worst = ""
        if len(judged):
            at = judged["slope"].abs().arg_max()
            assert at is not None
            row = judged.row(at, named=True)
            worst = f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}] @s{row['step']}"
        table.add_row(
            activation,
            "" if layer is None else str(layer),
            *(cells.get(step, "") for step in steps),
            worst,
        )
    return table


def print_report(
    result: CoordCheckResult, settings: CoordCheckSettings, *, out_dir: Path, console: Console
) -> None:
    """The slopes table, then the verdict with the failing (or uncertain) activations named."""
    title = (
        f"slope of log mean|x| vs log width — {settings.parametrization}, "
        f"{settings.attention} attention, widths {','.join(map(str, settings.widths))}, "
        f"{settings.seeds} seeds, lr {settings.lr:g}"
    )
    console.print(slopes_table(result, title=title))
    console.print(
        f"tolerance |slope| <= {result.tolerance:g} (judged from step {result.min_step}; "
        f"a slope fails when it exceeds the tolerance and its {1 - result.alpha:.0%} "
        "t-interval across seeds excludes 0; it passes when its "
        f"{1 - 2 * result.alpha:.0%} t-interval lies inside the tolerance)"
    )
    if result.verdict == "PASS":
        console.print("[bold green]PASS[/]: every activation is shown flat within tolerance")
    elif result.verdict == "FAIL":
        console.print("[bold red]FAIL[/]: these activations grow or shrink with width:")
        for line in result.failures:
            console.print(f"  - {line}")
    else:
        console.print(
            "[bold yellow]INCONCLUSIVE[/] (exit 3): nothing grows or shrinks beyond seed noise, "
            "but these slopes are not shown within the tolerance (more --seeds narrow the "
            "intervals):"
        )
        for line in result.uncertain:
            console.print(f"  - {line}")
    console.print(f"written to {out_dir}/ (coordcheck.csv, slopes.csv, coordcheck.png)")


def write_csv(records: pl.DataFrame, result: CoordCheckResult, out_dir: Path) -> None:
    """The raw records (``coordcheck.csv``) and the slopes (``slopes.csv``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records.write_csv(out_dir / "coordcheck.csv")
    result.slopes.write_csv(out_dir / "slopes.csv")


def plot_grid(records: pl.DataFrame, settings: CoordCheckSettings, path: Path) -> None:
    """A grid like microsoft/mup's: one panel per step, one line per activation and layer,
    mean |x| (averaged over seeds, for display only) against width on log-log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = (
        records.filter(pl.col("activation").is_in(ACTIVATIONS))
        .group_by(["step", "activation", "layer", "width"])
        .agg(pl.col("value").mean())
        .sort(["step", "activation", "layer", "width"])
    )
    steps = sorted(set(data["step"].to_list()))
    columns = min(5, len(steps))
    rows = math.ceil(len(steps) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.8 * rows + 0.9), squeeze=False, sharex=True
    )
    colours = plt.get_cmap("tab10")
    for index, step in enumerate(steps):
        ax = axes[index // columns][index % columns]
        at_step = data.filter(pl.col("step") == step)
        for a, activation in enumerate(ACTIVATIONS):
            of = at_step.filter(pl.col("activation") == activation)
            layers = sorted(set(of["layer"].to_list()), key=lambda x: -1 if x is None else x)
            for layer in layers:
                line = of.filter(
                    pl.col("layer").is_null() if layer is None else pl.col("layer") == layer
                )
                style = "-" if layer in (None, 0) else ["--", ":", "-."][(layer - 1) % 3]
                label = activation if layer in (None, 0) else None
                ax.plot(
                    line["width"].to_list(),
                    line["value"].to_list(),
                    style,
                    marker=".",
                    color=colours(a % 10),
                    label=label,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"step {step}" + (" (init)" if step == 0 else ""), fontsize=9)
        ax.tick_params(labelsize=7)
    for index in range(len(steps), rows * columns):
        axes[index // columns][index % columns].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    top = 1.0 - 0.9 / (2.8 * rows + 0.9)  # room for the title and legend, in figure units
    figure.suptitle(
        f"{settings.parametrization}, {settings.attention}: mean |x| vs width "
        "(solid: layer 0; dashed/dotted: later layers)",
        fontsize=10,
        y=0.995,
    )
    figure.legend(
        handles, labels, loc="lower center", bbox_to_anchor=(0.5, top), ncol=len(labels), fontsize=8
    )
    figure.tight_layout(rect=(0, 0, 1, top))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
