"""``harness coordcheck``: the muP coordinate check with a PASS/FAIL/INCONCLUSIVE verdict.

Builds the built-in GPT (or the researcher's own model, ``--model``) at each width, trains a
few steps at a deliberately high LR on one fixed batch through its own optimizer and LR
schedule, records mean |x| of every tapped activation per layer at every step, and judges each
activation's width exponent — the slope of log(mean |x|) over the later steps against
log(width), seeds as blocks — against a tolerance (``analysis.coordcheck``), adding seeds while
undecided. Exit 0 on PASS, 1 on FAIL, 3 on INCONCLUSIVE. ``--wider-is-better`` instead
trains short runs at fixed HPs across widths and fails when the loss gets worse with width.
See docs/coordcheck.md. Imports torch only inside ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import UserError

DEFAULT_WIDTHS = "64,128,256,512"
EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 3
EXIT_CODES = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}
EPILOG = (
    "exit codes: 0 PASS (every activation's width exponent is shown within the tolerance), "
    "1 FAIL (some exponent is shown beyond it, or a value is not finite), 3 INCONCLUSIVE "
    "(neither, after --seeds seeds), 2 bad input. Each wrong verdict has probability <= 5%. "
    "--wider-is-better: 0 or 1. See docs/coordcheck.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="check your own PyTorch model: FACTORY(width) returns the model, or (model, "
        "optimizer); every module's output is tapped (docs/coordcheck.md)",
    )
    parser.add_argument(
        "--batch",
        default=None,
        metavar="MODULE:FUNCTION",
        help="with --model: FUNCTION(seed) returns (inputs, targets) (default: random tokens, "
        "see --vocab-size)",
    )
    parser.add_argument(
        "--modules",
        default=None,
        help="with --model: comma-separated module names (or name prefixes) to tap (default all)",
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=256,
        help="with --model and no --batch: token ids of the default batch (default 256)",
    )
    parser.add_argument(
        "--widths",
        default=DEFAULT_WIDTHS,
        help=f"comma-separated widths, at least three (default {DEFAULT_WIDTHS})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps; the second half is judged (default 6; 60 with --wider-is-better)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="the most seeds per width: 2 first, one more while undecided (default 6; 3 "
        "with --wider-is-better, all used)",
    )
    parser.add_argument(
        "--parametrization", choices=("mup", "sp"), default="mup", help="(default mup)"
    )
    parser.add_argument(
        "--attention", choices=("selective", "mha"), default="selective", help="(default selective)"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam's base LR, deliberately high (default 3e-3)",
    )
    heads = parser.add_mutually_exclusive_group()
    heads.add_argument(
        "--n-head",
        type=int,
        default=None,
        help="a fixed number of heads whose size grows with width (default 2: checks muP's "
        "1/d_head attention scale)",
    )
    heads.add_argument(
        "--head-size",
        type=int,
        default=None,
        help="instead: a fixed head dim; heads = width / head size (the attention scale is then "
        "a constant no check can see)",
    )
    parser.add_argument("--n-layer", type=int, default=2, help="transformer blocks (default 2)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="largest |width exponent| of mean|x| that passes (default: "
        "analysis.coordcheck.DEFAULT_TOLERANCE, see docs/coordcheck.md)",
    )
    parser.add_argument(
        "--no-zero-init-query",
        dest="zero_init_query",
        action="store_false",
        help="keep the random init of the query projections (default: zeroed, as muP advises)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train (default auto: cuda when available, else cpu)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these models are tiny, threads mostly contend)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json: one JSON object on stdout, for CI",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default runs/coordcheck/<parametrization>-<attention>/, or "
        "runs/coordcheck/<module>-<factory>/ with --model)",
    )
    parser.add_argument(
        "--wider-is-better",
        action="store_true",
        help="instead: short training runs at fixed HPs across widths; FAIL when the final "
        "training loss gets worse with width",
    )


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--widths must be comma-separated integers, got {text!r}") from None
    if any(width < 1 for width in widths):
        raise UserError(f"--widths must be positive, got {text!r}")
    return widths


def resolve_device(requested: str) -> str:
    """ "cpu" or "cuda": ``auto`` is cuda when torch sees a GPU; ``cuda`` without one is a
    user error."""
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise UserError("--device cuda: torch sees no CUDA device here (use --device cpu)")
    if requested == "auto":
        return "cuda" if available else "cpu"
    return requested


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from analysis.coordcheck import DEFAULT_TOLERANCE
    from harness.coordcheck import ACTIVATIONS, CoordCheckSettings
    from harness.coordcheck.output import plot_grid, print_report, result_json, write_csv
    from harness.coordcheck.sequential import check_until_decided

    console = Console(width=None if sys.stdout.isatty() else 150)  # CI logs: no wrapping
    quiet = args.format == "json"
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    if args.threads < 1:
        raise UserError("--threads must be >= 1")
    if args.model is None and (args.batch or args.modules):
        raise UserError("--batch and --modules need --model")
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    settings = CoordCheckSettings(
        widths=_widths(args.widths),
        steps=args.steps if args.steps is not None else (60 if args.wider_is_better else 6),
        seeds=args.seeds if args.seeds is not None else (3 if args.wider_is_better else 6),
        first_seeds=min(2, args.seeds) if args.seeds is not None else 2,
        parametrization=args.parametrization,
        attention=args.attention,
        lr=args.lr if args.lr is not None else 3e-3,
        n_head=args.n_head if args.n_head is not None else (0 if args.head_size else 2),
        head_size=args.head_size or 0,
        n_layer=args.n_layer,
        zero_init_query=args.zero_init_query,
        device=device,
    )
    started = time.perf_counter()
    if args.wider_is_better:
        if args.model is not None:
            raise UserError("--wider-is-better checks the built-in GPT; drop --model")
        from harness.coordcheck.wider import print_wider, wider_is_better

        out_dir = args.out or Path("runs") / "coordcheck" / (
            f"{settings.parametrization}-{settings.attention}-wider"
        )
        wider = wider_is_better(settings)
        print_wider(wider, settings, out_dir=out_dir, console=console)
        console.print(f"took {time.perf_counter() - started:.0f} s")
        return 0 if wider.passed else 1

    if args.model is not None:
        from harness.coordcheck.user_model import UserModelCheck

        user = UserModelCheck.load(
            args.model,
            batch=args.batch,
            modules=args.modules,
            vocab_size=args.vocab_size,
            settings=settings,
        )
        order: tuple[str, ...] = ()
        measure_seed, what = user.measure_seed, args.model
        out_dir = args.out or Path("runs") / "coordcheck" / args.model.replace(":", "-")
    else:
        from harness.coordcheck.measure import measure_seed as measure_builtin

        def measure_seed(seed: int) -> list[dict]:
            return measure_builtin(settings, seed)

        order, what = ACTIVATIONS, f"{settings.parametrization}, {settings.attention} attention"
        out_dir = args.out or Path("runs") / "coordcheck" / (
            f"{settings.parametrization}-{settings.attention}"
        )

    def check(progress: Callable[[str], None] | None) -> tuple:
        return check_until_decided(
            measure_seed,
            first_seeds=settings.first_seeds,
            max_seeds=settings.seeds,
            tolerance=tolerance,
            first_step=settings.first_step,
            order=order,
            progress=progress,
        )

    if quiet:
        records, result = check(None)
    else:
        with console.status("coordcheck: training") as status:
            records, result = check(lambda text: status.update(f"coordcheck: {text}"))
    seconds = time.perf_counter() - started
    write_csv(records, result, out_dir)
    plot_grid(records, result, title=what, path=out_dir / "coordcheck.png")
    code = EXIT_CODES[result.verdict]
    if quiet:
        payload = result_json(result, settings, what=what, out_dir=out_dir, seconds=seconds)
        print(json.dumps(payload | {"exit_code": code}, indent=2))
    else:
        print_report(result, settings, what=what, out_dir=out_dir, console=console)
        console.print(f"took {seconds:.0f} s on {device}")
    return code
