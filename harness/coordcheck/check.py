"""``harness coordcheck``'s one entry point: run the coordinate check (or the wider-is-better
check) and print its verdict, returning the exit code a CI gate reads."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.coordcheck.settings import CoordCheckSettings

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 3
EXIT_CODES = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}


@dataclass(frozen=True, kw_only=True)
class CoordCheckRun:
    """What ``harness coordcheck`` was asked.

    Attributes:
        check: the widths, steps, seeds and model of the check.
        tolerance: largest |slope| of log mean|x| against log width that passes; None for
            ``analysis.coordcheck.DEFAULT_TOLERANCE``.
        threads: torch CPU threads.
        out_dir: the output folder; None for
            ``runs/coordcheck/<parametrization>-<attention>[-wider]/``.
        wider_is_better: instead, short training runs at fixed HPs across widths, failing when
            the final training loss gets worse with width.
    """

    check: CoordCheckSettings
    tolerance: float | None = None
    threads: int = 1
    out_dir: Path | None = None
    wider_is_better: bool = False


def run_coordcheck(settings: CoordCheckRun) -> int:
    """Run the check, write its table, CSV and plots, and print the verdict.

    Args:
        settings: the check and where its output goes.

    Returns:
        0 PASS, 1 FAIL, 3 INCONCLUSIVE; with ``wider_is_better``, 0 or 1.
    """
    import polars as pl
    import torch
    from rich.console import Console

    from analysis.coordcheck import DEFAULT_TOLERANCE, coord_check
    from harness.coordcheck.measure import measure
    from harness.coordcheck.output import plot_grid, print_report, write_csv
    from harness.coordcheck.settings import ACTIVATIONS

    console = Console(width=None if sys.stdout.isatty() else 150)  # CI logs: no wrapping
    tolerance = DEFAULT_TOLERANCE if settings.tolerance is None else settings.tolerance
    torch.set_num_threads(settings.threads)
    check = settings.check
    out_dir = settings.out_dir or Path("runs") / "coordcheck" / (
        f"{check.parametrization}-{check.attention}"
        + ("-wider" if settings.wider_is_better else "")
    )
    started = time.perf_counter()
    if settings.wider_is_better:
        from harness.coordcheck.wider import print_wider, wider_is_better

        wider = wider_is_better(check)
        print_wider(wider, check, out_dir=out_dir, console=console)
        console.print(f"took {time.perf_counter() - started:.0f} s")
        return EXIT_PASS if wider.passed else EXIT_FAIL

    with console.status("coordcheck: training") as status:
        rows = measure(check, progress=lambda text: status.update(f"coordcheck: {text}"))
    records = pl.DataFrame(rows, schema_overrides={"layer": pl.Int64})
    result = coord_check(
        records.filter(pl.col("activation").is_in(ACTIVATIONS)),
        tolerance=tolerance,
        order=ACTIVATIONS,
    )
    write_csv(records, result, out_dir)
    plot_grid(records, check, out_dir / "coordcheck.png")
    print_report(result, check, out_dir=out_dir, console=console)
    console.print(f"took {time.perf_counter() - started:.0f} s")
    return EXIT_CODES[result.verdict]
