"""``harness coordcheck``: the muP coordinate check with a PASS/FAIL/INCONCLUSIVE verdict.

Builds the built-in GPT (or the researcher's own model, ``--model``) at each width, trains a
few steps at a deliberately high LR on one fixed batch through its own optimizer and LR
schedule, records mean |x| of every tapped activation per layer at every step, and judges each
activation's width exponent — the slope of log(mean |x|) over the later steps against
log(width), seeds as blocks — against a tolerance (``analysis.coordcheck``), adding seeds while
undecided. Exit 0 on PASS, 1 on FAIL, 3 on INCONCLUSIVE. ``--wider-is-better`` instead
trains short runs at fixed HPs across widths and fails when the loss gets worse with width.
See docs/coordcheck.md. The flags become one :class:`harness.coordcheck.check.CoordCheckRun`
for :func:`harness.coordcheck.check.run_coordcheck`, which imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.coordcheck.settings import CoordCheckSettings, default_settings
from harness.errors import UserError

DEFAULTS = CoordCheckSettings()  # the check's defaults have one owner: the settings
MHA = default_settings("mha")  # plain attention trains a smaller batch for fewer steps
DEFAULT_WIDTHS = ",".join(str(width) for width in DEFAULTS.widths)
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
        help=f"training steps; the second half is judged (default {DEFAULTS.steps}; "
        f"{MHA.steps} with --attention mha, on a batch of {MHA.batch_size} x {MHA.block_size} "
        "tokens instead of "
        f"{DEFAULTS.batch_size} x {DEFAULTS.block_size}; 60 with --wider-is-better)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"the most seeds per width: {DEFAULTS.first_seeds} first, "
        f"{DEFAULTS.seeds_per_look} more while undecided (default {DEFAULTS.seeds}; 3 with "
        "--wider-is-better, all used)",
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
        help=f"Adam's base LR, deliberately high (default {DEFAULTS.lr:g})",
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
        "--no-wandb",
        action="store_true",
        help="do not log to wandb (default: as a study, a run per width and seed, offline "
        "without an API key)",
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


def run(args: argparse.Namespace) -> int:
    from harness.coordcheck import CoordCheckSettings
    from harness.coordcheck.check import CoordCheckRun, run_coordcheck

    if args.threads < 1:
        raise UserError("--threads must be >= 1")
    if args.model is None and (args.batch or args.modules):
        raise UserError("--batch and --modules need --model")
    if args.wider_is_better and args.model is not None:
        raise UserError("--wider-is-better checks the built-in GPT; drop --model")
    seeds = (
        args.seeds if args.seeds is not None else (3 if args.wider_is_better else DEFAULTS.seeds)
    )
    # The built-in check's batch and steps depend on its attention (settings.ATTENTION_DEFAULTS);
    # a researcher's model and the training runs of --wider-is-better keep the common ones.
    builtin = args.model is None and not args.wider_is_better
    defaults = default_settings(args.attention) if builtin else DEFAULTS
    check = CoordCheckSettings(
        widths=_widths(args.widths),
        steps=args.steps
        if args.steps is not None
        else (60 if args.wider_is_better else defaults.steps),
        seeds=seeds,
        first_seeds=min(DEFAULTS.first_seeds, seeds),
        seeds_per_look=DEFAULTS.seeds_per_look,
        parametrization=args.parametrization,
        attention=args.attention,
        batch_size=defaults.batch_size,
        block_size=defaults.block_size,
        lr=args.lr if args.lr is not None else DEFAULTS.lr,
        n_head=args.n_head if args.n_head is not None else (0 if args.head_size else 2),
        head_size=args.head_size or 0,
        n_layer=args.n_layer,
        zero_init_query=args.zero_init_query,
    )
    settings = CoordCheckRun(
        check=check,
        tolerance=args.tolerance,
        threads=args.threads,
        device=args.device,
        out_dir=args.out,
        wider_is_better=args.wider_is_better,
        model=args.model,
        batch=args.batch,
        modules=args.modules,
        vocab_size=args.vocab_size,
        format=args.format,
        wandb=not args.no_wandb,
    )
    return run_coordcheck(settings)
