"""What ``harness coordcheck`` leaves: a rich table of slopes, the raw CSV, a grid of plots.

Torch-free; matplotlib (Agg) is imported only when plotting.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from analysis.coordcheck import FAILING, CoordCheckResult, seeds_to_decide
from harness.coordcheck.settings import CoordCheckSettings, look_schedule


def slopes_table(result: CoordCheckResult, *, title: str) -> Table:
    """Activations (and layers) down; per step the mean per-seed slope, then the judged width
    exponent with its interval.

    Failing rows are red, uncertain ones yellow; steps before the judged window are dim.
    """
    slopes = result.slopes
    steps = sorted(set(slopes["step"].to_list()))
    table = Table(title=title, title_justify="left")
    table.add_column("activation")
    table.add_column("layer", justify="right")
    for step in steps:
        table.add_column(f"s{step}", justify="right")
    table.add_column("exponent", justify="right")
    table.add_column(f"{1 - 2 * result.alpha / result.looks:.1%} interval", justify="right")
    for row in result.exponents.iter_rows(named=True):
        activation, layer = row["activation"], row["layer"]
        of = slopes.filter(
            (pl.col("activation") == activation)
            & (pl.col("layer").is_null() if layer is None else pl.col("layer") == layer)
        )
        cells = {}
        for step, slope in of.select("step", "slope").iter_rows():
            text = "nan" if not math.isfinite(slope) else f"{slope:+.2f}"
            cells[step] = f"[dim]{text}[/]" if step < result.first_step else text
        style = {"ok": "", "uncertain": "yellow"}.get(row["status"], "bold red")
        exponent = "nan" if not math.isfinite(row["slope"]) else f"{row['slope']:+.2f}"
        interval = (
            f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" if math.isfinite(row["se"]) else ""
        )
        table.add_row(
            activation,
            "" if layer is None else str(layer),
            *(cells.get(step, "") for step in steps),
            f"[{style}]{exponent}[/]" if style else exponent,
            interval,
        )
    return table


def print_report(
    result: CoordCheckResult,
    settings: CoordCheckSettings,
    *,
    what: str,
    out_dir: Path,
    console: Console,
    optimizer: str | None = None,
) -> None:
    """The slopes table, then the verdict with the failing (or uncertain) activations named.

    ``optimizer`` says what trained a ``--model`` model (default: the built-in's "lr X")."""
    seeds = result.seeds
    title = (
        f"width exponent of mean|x| — {what}, widths {','.join(map(str, settings.widths))}, "
        f"{seeds} seeds (at most {settings.seeds}), {optimizer or f'lr {settings.lr:g}'}"
    )
    console.print(slopes_table(result, title=title))
    console.print(
        f"tolerance |exponent| <= {result.tolerance:g}, judged on steps {result.first_step}.."
        f"{settings.steps - 1} (the mean of log mean|x| over them, against log width, seeds as "
        f"blocks); PASS when every interval lies inside the tolerance, FAIL when some exponent "
        f"is shown beyond it; each wrong verdict at most {result.alpha:.0%} over "
        f"{result.looks} looks"
    )
    if result.verdict == "PASS":
        console.print("[bold green]PASS[/]: every activation is shown flat within tolerance")
    elif result.verdict == "FAIL":
        console.print("[bold red]FAIL[/]: these activations grow or shrink with width:")
        for line in result.failures:
            console.print(f"  - {line}")
    else:
        console.print(
            f"[bold yellow]INCONCLUSIVE[/] (exit 3): after {seeds} seeds these exponents are "
            "neither shown within the tolerance nor beyond it:"
        )
        for line in result.uncertain:
            console.print(f"  - {line}")
        console.print(more_seeds_hint(result, seeds_to_decide_check(result, settings)))
    console.print(
        f"written to {out_dir}/ (coordcheck.json, coordcheck.csv, exponents.csv, slopes.csv, "
        f"coordcheck.png); harness report {out_dir} draws it"
    )


def seeds_to_decide_check(result: CoordCheckResult, settings: CoordCheckSettings) -> int | None:
    """About how many seeds would decide an INCONCLUSIVE check (80 % power, were the exponents
    the ones measured now; ``analysis.coordcheck.seeds_to_decide``), with this check's looks."""
    return seeds_to_decide(
        result,
        looks_for=lambda seeds: len(
            look_schedule(settings.first_seeds, seeds, settings.seeds_per_look)
        ),
    )


def more_seeds_hint(result: CoordCheckResult, needed: int | None) -> str:
    """What more seeds would do for an INCONCLUSIVE check, in a line, given the seeds that
    would decide it (:func:`seeds_to_decide_check`; None: no practical number)."""
    if needed is None:
        return (
            f"More seeds will hardly decide it: an exponent sits at the tolerance "
            f"(±{result.tolerance:g}); the model is at the edge of what the check calls flat"
        )
    return (
        f"About {needed} seeds would decide it (80 % chance, were the exponents what they "
        f"measure now): rerun with --seeds {needed} and the same other options (it measures "
        f"the same first {result.seeds} seeds again, then more)"
    )


def result_json(
    result: CoordCheckResult,
    settings: CoordCheckSettings,
    *,
    what: str,
    out_dir: Path,
    seconds: float,
    worst: int = 5,
) -> dict[str, Any]:
    """The verdict for a CI job: settings, the failing / uncertain lines and the ``worst``
    exponents (farthest from 0) with their intervals."""
    exponents = result.exponents
    ranked = exponents.with_columns(
        pl.col("status").is_in(FAILING).alias("_failing"),
        pl.col("slope").abs().fill_nan(float("inf")).alias("_reach"),
    )  # failing first, then the farthest from 0
    rows = (
        ranked.sort(["_failing", "_reach"], descending=True)
        .drop("_failing", "_reach")
        .head(worst)
        .to_dicts()
    )
    keep = ("activation", "layer", "slope", "ci_low", "ci_high", "fail_low", "fail_high")
    undecided = result.verdict == "INCONCLUSIVE"
    needed = seeds_to_decide_check(result, settings) if undecided else None
    return {
        "verdict": result.verdict,
        "what": what,
        "tolerance": result.tolerance,
        "alpha": result.alpha,
        "looks": result.looks,
        "seeds": result.seeds,
        "widths": list(settings.widths),
        "steps": settings.steps,
        "judged_from_step": result.first_step,
        "device": settings.device,
        "seconds": round(seconds, 1),
        "failures": list(result.failures),
        "uncertain": list(result.uncertain),
        "seeds_to_decide": needed,
        "more_seeds": more_seeds_hint(result, needed) if undecided else None,
        "worst": [
            {key: json_plain(row[key]) for key in keep}
            | {"status": row["status"], "steepest_step": row["worst_step"]}
            for row in rows
        ],
        "out_dir": str(out_dir),
    }


def json_plain(value: Any) -> Any:
    """JSON has no NaN: a non-finite float becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(records: pl.DataFrame, result: CoordCheckResult, out_dir: Path) -> None:
    """The raw records (``coordcheck.csv``), the judged exponents (``exponents.csv``) and the
    per-step slopes (``slopes.csv``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records.write_csv(out_dir / "coordcheck.csv")
    result.exponents.write_csv(out_dir / "exponents.csv")
    result.slopes.write_csv(out_dir / "slopes.csv")


def plot_grid(records: pl.DataFrame, result: CoordCheckResult, *, title: str, path: Path) -> None:
    """A grid like microsoft/mup's: one panel per step, one line per activation and layer,
    mean |x| (averaged over seeds, for display only) against width on log-log axes. Failing
    activations are drawn thick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result.exponents["activation"].unique(maintain_order=True).to_list()
    failing = {
        (row["activation"], row["layer"])
        for row in result.exponents.filter(pl.col("status").is_in(FAILING)).iter_rows(named=True)
    }
    data = (
        records.filter(pl.col("activation").is_in(names) & (pl.col("value") > 0))
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
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    for index, step in enumerate(steps):
        ax = axes[index // columns][index % columns]
        at_step = data.filter(pl.col("step") == step)
        for a, activation in enumerate(names):
            of = at_step.filter(pl.col("activation") == activation)
            layers = sorted(set(of["layer"].to_list()), key=lambda x: -1 if x is None else x)
            for layer in layers:
                line = of.filter(
                    pl.col("layer").is_null() if layer is None else pl.col("layer") == layer
                )
                style = "-" if layer in (None, 0) else ["--", ":", "-."][(layer - 1) % 3]
                ax.plot(
                    line["width"].to_list(),
                    line["value"].to_list(),
                    style,
                    marker=".",
                    linewidth=2.5 if (activation, layer) in failing else 1.0,
                    color=colours(a % colours.N),
                    label=activation if layer in (None, 0) else None,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        judged = "" if step >= result.first_step else " (not judged)"
        ax.set_title(f"step {step}{judged}", fontsize=9)
        ax.tick_params(labelsize=7)
    for index in range(len(steps), rows * columns):
        axes[index // columns][index % columns].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    top = 1.0 - 0.9 / (2.8 * rows + 0.9)  # room for the title and legend, in figure units
    figure.suptitle(
        f"{title}: mean |x| vs width — {result.verdict} "
        "(solid: layer 0; dashed/dotted: later layers; thick: failing)",
        fontsize=10,
        y=0.995,
    )
    figure.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, top),
        ncol=min(len(labels), 8),
        fontsize=7,
    )
    figure.tight_layout(rect=(0, 0, 1, top))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
