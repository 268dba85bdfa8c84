"""A short run of the built-in trainer of the commit it lives in (``harness regress``/``bisect``).

``studies/regression.toml`` runs it as a command variant, so ``harness bisect`` and
``harness regress`` execute it inside each commit's worktree. It puts that worktree first on
``sys.path``, so the ``harness``, ``models`` and ``kernels`` it trains with are the commit's own,
not the installed ones; a commit that predates this script (or the trainer's API) fails to run
and is skipped like ``git bisect skip``.

Usage::

    python benchmarks/regression_probe.py --seed 0 --run-dir DIR [--steps 40]
        [--set model.n_layer=2 ...] [--device cpu]

It appends the trainer's metrics to ``DIR/metrics.jsonl``; the last line is the end-of-run
summary (``val_loss`` ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Small enough for a few dozen steps on a CPU in seconds, big enough that val_loss moves.
PROBE_CONFIG = {
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64},
    "data": {"val_sequences": 128},
    "train": {"steps": 40, "batch_size": 8, "warmup_steps": 5, "eval_batch_size": 64},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 40)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the probe's config, e.g. --set model.n_layer=4 (repeatable)",
    )
    args = parser.parse_args(argv)

    from harness.errors import SpecError
    from harness.schema import from_mapping
    from harness.study.tables import parse_assignment, set_dotted
    from harness.training import train
    from harness.training.config import RunConfig

    mapping = json.loads(json.dumps(PROBE_CONFIG))
    if args.steps is not None:
        mapping["train"]["steps"] = args.steps
    try:
        # The study command's --set, read as `harness study --set` reads it.
        for assignment in args.overrides:
            set_dotted(mapping, *parse_assignment(assignment))
        config = from_mapping(RunConfig, mapping)
    except SpecError as error:
        parser.error(str(error))

    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    args.run_dir.mkdir(parents=True, exist_ok=True)
    with (args.run_dir / "metrics.jsonl").open("a") as metrics:

        def log(row: dict) -> None:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()

        train(config, seed=args.seed, run_dir=args.run_dir, log=log, device=device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
