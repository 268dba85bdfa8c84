"""``harness import-commands FILE``: a ``name:command`` list becomes a study file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.verdict import Direction
from harness.commands._common import positive
from harness.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a text file of 'name:command' lines ('-' for stdin)")
    parser.add_argument(
        "--output", "-o", default=None, help="study file to write (default: print to stdout)"
    )
    parser.add_argument("--name", default=None, help="study name (default: the file's stem)")
    parser.add_argument("--seeds", type=positive, default=3, help="seeds per variant")
    parser.add_argument("--metric", default="val_loss", help="the primary metric")
    parser.add_argument(
        "--direction",
        choices=[direction.value for direction in Direction],
        default=Direction.MINIMIZE.value,
    )
    parser.add_argument(
        "--metrics",
        choices=("auto",),
        default=None,
        help="read the metrics from what the commands print, with the built-in patterns "
        "('name: 1.23', 'name=1.23', 'name 1.23'; step/iter/iteration is the step)",
    )
    parser.add_argument(
        "--metrics-pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="read the metrics from printed lines matching REGEX, whose named groups are "
        "metrics, e.g. 'val loss (?P<val_loss>[0-9.]+)' (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.study.import_commands import default_study_name, parse_command_list, to_study_toml

    if args.file == "-":
        text, source, name = sys.stdin.read(), "<stdin>", args.name or "imported"
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        text, source, name = path.read_text(), str(path), args.name or default_study_name(path)
    result = parse_command_list(text, source=source)
    toml = to_study_toml(
        result,
        name=name,
        seeds=args.seeds,
        metric=args.metric,
        direction=Direction(args.direction),
        source=source,
        metrics=args.metrics,
        metric_patterns=tuple(args.metrics_pattern),
    )
    for variant in result.variants:
        for conversion in variant.conversions:
            print(f"{variant.name}: {conversion}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(toml)
        print(
            f"wrote {len(result.variants)} variants to {args.output}; check it with "
            f"'harness validate {args.output}'",
            file=sys.stderr,
        )
    else:
        print(toml)
    return 0
