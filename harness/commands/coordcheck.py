"""``harness coordcheck``: the muP coordinate check with a PASS/FAIL/INCONCLUSIVE verdict.

Builds the built-in GPT at each width (head size fixed: heads and MLP width grow with the
residual width), trains a few steps at a deliberately high LR on one fixed batch through the
trainer's own optimizer and LR schedule, records mean |x| of every tapped activation per layer
at every step, and judges the slope of log(mean |x|) against log(width) with its spread across
seeds (``analysis.coordcheck``). Exit 0 on PASS (every slope's interval inside the tolerance),
1 on FAIL, 3 on INCONCLUSIVE (nothing fails, but some slope is not shown within the tolerance:
a CI gate chooses whether to accept it). ``--wider-is-better`` instead
trains short runs at fixed HPs across widths and fails when the loss gets worse with width.
See docs/coordcheck.md. The flags become one :class:`harness.coordcheck.check.CoordCheckRun`
for :func:`harness.coordcheck.check.run_coordcheck`, which imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import UserError

DEFAULT_WIDTHS = "64,128,256,512"
EPILOG = (
    "exit codes: 0 PASS (every judged slope's 90% t-interval lies inside the tolerance), "
    "1 FAIL (a slope exceeds the tolerance and its 95% interval excludes 0, or a value is not "
    "finite), 3 INCONCLUSIVE (nothing fails, but some slope is not shown within the tolerance: "
    "add --seeds; a CI gate may accept or reject 3), 2 bad input. --wider-is-better: 0 or 1. "
    "See docs/coordcheck.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "--widths",
        default=DEFAULT_WIDTHS,
        help=f"comma-separated residual widths, at least three (default {DEFAULT_WIDTHS})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps (default 10; 60 with --wider-is-better)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per width (default 3)")
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
        "--head-size",
        type=int,
        default=16,
        help="fixed head dim; heads = width / head size (default 16)",
    )
    heads.add_argument(
        "--n-head",
        type=int,
        default=0,
        help="instead: a fixed number of heads whose size grows with width (checks muP's "
        "1/d_head attention scale)",
    )
    parser.add_argument("--n-layer", type=int, default=2, help="transformer blocks (default 2)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="largest |slope| of log mean|x| vs log width that passes (default: "
        "analysis.coordcheck.DEFAULT_TOLERANCE, see docs/coordcheck.md)",
    )
    parser.add_argument(
        "--zero-init-query", action="store_true", help="muP's optional zero init of the queries"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these models are tiny, threads mostly contend)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default runs/coordcheck/<parametrization>-<attention>/)",
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


def run(args: argparse.Namespace) -> int:
    from harness.coordcheck import CoordCheckSettings
    from harness.coordcheck.check import CoordCheckRun, run_coordcheck

    if args.threads < 1:
        raise UserError("--threads must be >= 1")
    check = CoordCheckSettings(
        widths=_widths(args.widths),
        steps=args.steps if args.steps is not None else (60 if args.wider_is_better else 10),
        seeds=args.seeds,
        parametrization=args.parametrization,
        attention=args.attention,
        lr=args.lr if args.lr is not None else 3e-3,
        head_size=args.head_size,
        n_head=args.n_head,
        n_layer=args.n_layer,
        zero_init_query=args.zero_init_query,
    )
    settings = CoordCheckRun(
        check=check,
        tolerance=args.tolerance,
        threads=args.threads,
        out_dir=args.out,
        wider_is_better=args.wider_is_better,
    )
    return run_coordcheck(settings)
