"""``harness runs [STUDY_DIR]``: list a study's runs and their status."""

from __future__ import annotations

import argparse

from harness.commands._common import add_format_argument, add_study_dir_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_dir_argument(parser)
    add_format_argument(parser, ("table", "json", "markdown", "csv"))


def run(args: argparse.Namespace) -> int:
    from harness.report.runs_view import RunsSettings, show_runs

    return show_runs(
        RunsSettings(study_dir=args.study_dir, runs_dir=args.runs_dir, format=args.format)
    )
