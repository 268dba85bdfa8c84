"""``harness coordcheck``'s one entry point: run the coordinate check (or the wider-is-better
check) on the built-in GPT or the researcher's own model, and print its verdict, returning the
exit code a CI gate reads."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.coordcheck.settings import CoordCheckSettings
from harness.errors import UserError

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 3
EXIT_CODES = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}


@dataclass(frozen=True, kw_only=True)
class CoordCheckRun:
    """What ``harness coordcheck`` was asked.

    Attributes:
        check: the widths, steps, seeds and built-in model of the check.
        tolerance: largest |width exponent| of mean|x| that passes; None for
            ``analysis.coordcheck.DEFAULT_TOLERANCE``.
        threads: torch CPU threads.
        device: "auto" (cuda when torch sees a GPU, else cpu), "cpu" or "cuda".
        out_dir: the output folder; None for ``runs/coordcheck/<parametrization>-<attention>
            [-wider]/``, or ``runs/coordcheck/<module>-<factory>/`` with ``model``.
        wider_is_better: instead, short training runs at fixed HPs across widths, failing when
            the final training loss gets worse with width.
        model: ``MODULE:FACTORY`` of the researcher's own model (None: the built-in GPT).
        batch: with ``model``, ``MODULE:FUNCTION`` giving (inputs, targets) for a seed.
        modules: with ``model``, comma-separated module names (or prefixes) to tap.
        vocab_size: with ``model`` and no ``batch``, the token ids of the default batch.
        format: "table" or "json" (one JSON object on stdout, for CI).
        wandb: log a wandb run per (width, seed), as a study does (False: ``--no-wandb``).
    """

    check: CoordCheckSettings
    tolerance: float | None = None
    threads: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    out_dir: Path | None = None
    wider_is_better: bool = False
    model: str | None = None
    batch: str | None = None
    modules: str | None = None
    vocab_size: int = 256
    format: Literal["table", "json"] = "table"
    wandb: bool = True


def resolve_device(requested: str) -> str:
    """ "cpu" or "cuda": ``auto`` is cuda when torch sees a GPU; ``cuda`` without one is a
    user error."""
    import torch

    from harness.training.device import resolve_auto_device

    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA device here (use --device cpu)")
    return resolve_auto_device(requested)


def run_coordcheck(settings: CoordCheckRun) -> int:
    """Run the check, write its CSV and plot, and print the verdict (or its JSON).

    Args:
        settings: the check, the model and where its output goes.

    Returns:
        0 PASS, 1 FAIL, 3 INCONCLUSIVE; with ``wider_is_better``, 0 or 1.

    Raises:
        UserError: ``--device cuda`` without a GPU, or a ``--model`` that cannot be loaded.
    """
    import torch
    from rich.console import Console

    from analysis.coordcheck import DEFAULT_TOLERANCE
    from harness.coordcheck.output import plot_grid, print_report, result_json, write_csv
    from harness.coordcheck.saved import save_coordcheck
    from harness.coordcheck.sequential import check_until_decided
    from harness.coordcheck.settings import ACTIVATIONS
    from harness.coordcheck.wandb_log import check_group, coordcheck_wandb, log_coordcheck

    console = Console(width=None if sys.stdout.isatty() else 150)  # CI logs: no wrapping
    quiet = settings.format == "json"
    tolerance = DEFAULT_TOLERANCE if settings.tolerance is None else settings.tolerance
    torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    check = dataclasses.replace(settings.check, device=device)
    started = time.perf_counter()
    if settings.wider_is_better:
        from harness.coordcheck.wider import print_wider, wider_is_better

        out_dir = settings.out_dir or Path("runs") / "coordcheck" / (
            f"{check.parametrization}-{check.attention}-wider"
        )
        wider = wider_is_better(check)
        print_wider(wider, check, out_dir=out_dir, console=console)
        console.print(f"took {time.perf_counter() - started:.0f} s")
        return EXIT_PASS if wider.passed else EXIT_FAIL

    if settings.model is not None:
        from harness.coordcheck.user_model import UserModelCheck

        user = UserModelCheck.load(
            settings.model,
            batch=settings.batch,
            modules=settings.modules,
            vocab_size=settings.vocab_size,
            settings=check,
        )
        order: tuple[str, ...] = ()
        measure_seed, what = user.measure_seed, settings.model
        optimizers: set[str] | None = user.optimizers  # filled as the models are built
        out_dir = settings.out_dir or Path("runs") / "coordcheck" / settings.model.replace(":", "-")
    else:
        from harness.coordcheck.measure import measure_seed as measure_builtin

        def measure_seed(seed: int) -> list[dict]:
            return measure_builtin(check, seed)

        order, what = ACTIVATIONS, f"{check.parametrization}, {check.attention} attention"
        optimizers = None
        out_dir = settings.out_dir or Path("runs") / "coordcheck" / (
            f"{check.parametrization}-{check.attention}"
        )

    def decide(progress: Callable[[str], None] | None) -> tuple:
        return check_until_decided(
            measure_seed,
            first_seeds=check.first_seeds,
            seeds_per_look=check.seeds_per_look,
            max_seeds=check.seeds,
            tolerance=tolerance,
            first_step=check.first_step,
            order=order,
            progress=progress,
        )

    if quiet:
        records, result = decide(None)
    else:
        with console.status("coordcheck: training") as status:
            records, result = decide(lambda text: status.update(f"coordcheck: {text}"))
    seconds = time.perf_counter() - started
    write_csv(records, result, out_dir)
    plot_grid(records, result, title=what, path=out_dir / "coordcheck.png")
    code = EXIT_CODES[result.verdict]
    payload = result_json(result, check, what=what, out_dir=out_dir, seconds=seconds)
    payload |= {"exit_code": code}
    optimizer = "; ".join(sorted(optimizers)) if optimizers else None
    if optimizer:
        payload["optimizer"] = optimizer
    save_coordcheck(out_dir, records, result, payload)  # for harness report
    log_coordcheck(
        records,
        payload,
        wandb=coordcheck_wandb(enabled=settings.wandb),
        group=check_group(out_dir.name),
        config=dataclasses.asdict(check) | {"what": what},
        out_dir=out_dir,
    )
    if quiet:
        print(json.dumps(payload, indent=2))
    else:
        print_report(
            result, check, what=what, out_dir=out_dir, console=console, optimizer=optimizer
        )
        console.print(f"took {seconds:.0f} s on {device}")
    return code
