"""``harness import-runs SOURCE LOCATION -o runs/NAME``: runs logged elsewhere become a study.

Reads wandb run folders or a wandb project, TensorBoard logs, an MLflow store, Lightning CSV
logs or a CSV table (docs/importing.md), groups the runs into variants and seeds from their
configs, and writes them as a read-only study that ``harness compare``, ``report`` and
``export`` read like any other. Importing again adds new and finished runs and rewrites only
the runs that changed; the original logs are only read. Never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.verdict import Direction
from harness.commands._common import add_runs_dir
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.importers._base import LogSource
    from harness.importers.grouping import Grouping
    from harness.importers.study import WriteOutcome

SOURCES = ("wandb", "wandb-api", "tensorboard", "mlflow", "lightning", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        choices=SOURCES,
        help="wandb: a folder of wandb run folders (wandb/run-*, wandb/offline-run-*); "
        "wandb-api: an entity/project online; tensorboard: a log folder, one sub-folder per "
        "run; mlflow: an mlruns folder or a tracking URI; lightning: a CSVLogger save_dir; "
        "csv: a CSV/TSV table of runs",
    )
    parser.add_argument("location", help="the folder, file, URI or entity/project to read")
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        help="the study folder to write (default: <runs dir>/<--name>); importing into it "
        "again adds what is new",
    )
    parser.add_argument("--name", default=None, help="study name (default: the output folder's)")
    parser.add_argument(
        "--metric", default=None, help="the primary metric (default: val_loss, loss ...)"
    )
    parser.add_argument(
        "--direction", choices=[direction.value for direction in Direction], default=None
    )
    parser.add_argument(
        "--variant-by",
        default=None,
        metavar="KEY,KEY",
        help="the config keys that tell variants apart, e.g. model.attn,model.protect_bos "
        "(default: every key whose value differs between runs, bookkeeping keys aside)",
    )
    parser.add_argument(
        "--seed-key",
        default=None,
        help="the config key of the seed (default: seed, random_seed, ...)",
    )
    parser.add_argument(
        "--baseline", default=None, help="the baseline variant (default: the one with most seeds)"
    )
    parser.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read metric OLD as NEW (runs that logged one metric under two names; repeatable)",
    )
    group = parser.add_argument_group("wandb-api")
    group.add_argument("--group", default=None, help="only runs of this wandb group")
    group.add_argument(
        "--tag",
        action="append",
        default=[],
        help="only runs with this tag (repeatable: any of them)",
    )
    group.add_argument(
        "--state", default=None, help="only runs in this wandb state (finished, crashed ...)"
    )
    group = parser.add_argument_group("mlflow")
    group.add_argument("--experiment", default=None, help="only this experiment (default: all)")
    group = parser.add_argument_group("csv")
    group.add_argument("--run-column", default=None, help="the column naming each row's run")
    group.add_argument("--step-column", default=None, help="the column of steps")
    group.add_argument(
        "--config-columns",
        default=None,
        metavar="COL,COL",
        help="fractional-number columns that are config, not metrics (tables with one row per "
        "run; the --variant-by and --seed-key columns are config too)",
    )
    add_runs_dir(parser)


def run(args: argparse.Namespace) -> int:
    # the importers' ImportFailure is a UserError: the CLI prints it as one line, exit 2
    from harness.importers._base import ImportFailure
    from harness.importers.grouping import group_runs
    from harness.importers.metrics import (
        choose_direction,
        choose_metric,
        missing_metric,
        rename_metrics,
    )
    from harness.importers.reading import read_runs
    from harness.importers.study import (
        ImportOrigin,
        run_label,
        stored_import,
        stored_runs,
        write_study,
    )
    from harness.store import runs_root

    output = (
        Path(args.output)
        if args.output
        else runs_root(args.runs_dir) / (args.name or _default_name(args.location))
    )
    name = args.name or output.name
    stored = stored_import(output)
    location = _where(args.location)
    if stored is not None and (stored.get("source"), stored.get("location")) != (
        args.source,
        location,
    ):
        raise UserError(
            f"{output} holds runs imported from {stored.get('source')} {stored.get('location')}; "
            "import this source into another folder"
        )
    variant_by = _list(args.variant_by)
    seed_key = args.seed_key
    if stored is not None:  # group as before: another grouping would leave the old runs beside
        before = list(stored.get("variant_by") or [])
        if (variant_by is not None and variant_by != before) or (
            seed_key is not None and seed_key != stored.get("seed_key")
        ):
            raise UserError(
                f"{output} holds runs grouped by {', '.join(before) or '(no key)'} with seed key "
                f"{stored.get('seed_key')}; import with another grouping into a new folder"
            )
        variant_by = before or None
        seed_key = stored.get("seed_key")
    source = _source(args)
    refs = source.find_runs()
    renames = _renames(args.rename)
    known = stored_runs(output) if stored is not None else {}
    with _progress(f"reading {len(refs)} runs", len(refs)) as advance:
        runs, unreadable = read_runs(
            source,
            refs,
            known=known,
            options=";".join(f"{old}={new}" for old, new in sorted(renames.items())),
            advance=advance,
        )
    if not runs:
        shown = "; ".join(f"{u.label}: {u.reason}" for u in unreadable[:5])
        raise UserError(f"{args.location}: no run could be read ({shown})")
    runs = rename_metrics(runs, renames)
    metric = choose_metric(runs, args.metric or (stored or {}).get("metric"))
    direction = choose_direction(
        metric, None if args.direction is None else Direction(args.direction)
    )
    baseline = args.baseline or (stored or {}).get("baseline")
    try:
        grouping = group_runs(runs, variant_by=variant_by, seed_key=seed_key, baseline=baseline)
    except ImportFailure:
        if args.baseline or baseline is None:
            raise
        # the earlier import's baseline is gone from the runs: choose again
        grouping = group_runs(runs, variant_by=variant_by, seed_key=seed_key)
    missing = missing_metric([m.run for m in grouping.members], metric)
    report: dict[str, Any] = {
        "metric": metric,
        "baseline": grouping.baseline,
        "left_out": [{"run": run_label(x.run), "reason": x.reason} for x in grouping.left_out],
        "unreadable": [{"run": u.label, "reason": u.reason} for u in unreadable],
        "confounds": {
            v: {k: list(vals) for k, vals in keys.items()} for v, keys in grouping.confounds.items()
        },
        "unpaired": {v: list(seeds) for v, seeds in grouping.unpaired.items()},
        "missing_metric": missing,
    }
    with _progress(f"writing {len(grouping.members)} runs", len(grouping.members)) as advance:
        outcome = write_study(
            output,
            grouping,
            name=name,
            metric=metric,
            direction=direction,
            origin=ImportOrigin(kind=source.kind, location=location),
            report=report,
            advance=advance,
        )
    _print_summary(
        args, output, grouping, outcome, metric=metric, direction=direction, runs=len(refs)
    )
    for line in [f"{u.label}: could not be read: {u.reason}" for u in unreadable] + missing:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def _source(args: argparse.Namespace) -> LogSource:
    if args.source == "wandb":
        from harness.importers.wandb_local import WandbLocalSource

        return WandbLocalSource(args.location)
    if args.source == "wandb-api":
        from harness.importers.wandb_api import WandbApiSource

        return WandbApiSource(args.location, group=args.group, tags=args.tag, state=args.state)
    if args.source == "tensorboard":
        from harness.importers.tensorboard import TensorBoardSource

        return TensorBoardSource(args.location)
    if args.source == "mlflow":
        from harness.importers.mlflow import MlflowSource

        return MlflowSource(args.location, experiment=args.experiment)
    if args.source == "lightning":
        from harness.importers.csv import LightningCsvSource

        return LightningCsvSource(args.location)
    from harness.importers.csv import CsvTableSource

    return CsvTableSource(
        args.location,
        run_column=args.run_column,
        step_column=args.step_column,
        # a named variant or seed key is config, whatever its column holds
        config_columns=[
            *(_list(args.config_columns) or ()),
            *(_list(args.variant_by) or ()),
            *([args.seed_key] if args.seed_key else []),
        ],
    )


def _print_summary(
    args: argparse.Namespace,
    output: Path,
    grouping: Grouping,
    outcome: WriteOutcome,
    *,
    metric: str,
    direction: str,
    runs: int,
) -> None:
    print(
        f"imported {len(grouping.members)} of {runs} runs from {args.source} {args.location} "
        f"into {output} ({len(outcome.new)} new, {len(outcome.updated)} updated, "
        f"{len(outcome.unchanged)} unchanged)"
    )
    how = (
        "named"
        if grouping.chosen_by == "named"
        else "the config keys that differ; --variant-by to choose"
    )
    keys = ", ".join(grouping.variant_keys) or "(none: every run is one variant)"
    print(f"variants by: {keys} ({how})")
    print(f"seed key: {grouping.seed_key or '(none found)'}")
    print(f"metric: {metric} ({direction})")
    width = max(len(name) for name in grouping.variants)
    print()
    for variant, values in grouping.variants.items():
        seeds = grouping.seeds_of(variant)
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        tag = "  (baseline)" if variant == grouping.baseline else ""
        print(f"  {variant.ljust(width)}  {len(seeds)} seed(s): {_seeds(seeds)}  [{shown}]{tag}")
    print()
    for note in grouping.notes:
        print(f"note: {note}")
    if grouping.ignored_keys:
        ignored = ", ".join(grouping.ignored_keys)
        kind = (
            "not named by --variant-by" if grouping.chosen_by == "named" else "names, paths, seeds"
        )
        print(f"note: keys that differ but do not make variants ({kind}): {ignored}")
    for variant, found in grouping.confounds.items():
        for key, inside in found.items():
            shown = ", ".join(map(str, inside))
            print(f"confound: '{key}' differs inside variant {variant} ({shown}): runs not alike")
    for variant, unpaired in grouping.unpaired.items():
        other = "no other variant has" if variant == grouping.baseline else "the baseline lacks"
        print(f"unpaired: {variant} seed(s) {_seeds(list(unpaired))}: {other} them")
    one_seed = [v for v in grouping.variants if len(grouping.seeds_of(v)) < 2]
    if one_seed and len(one_seed) == len(grouping.variants):
        print(
            "one seed per variant: one run cannot be told from seed noise, so nothing can be "
            "compared or ranked yet; with 2+ seeds per variant, 'harness compare' measures the "
            "noise and says how many seeds each comparison needs"
        )
    elif one_seed:
        print(
            f"one seed: {', '.join(one_seed)}: a single run has no seed noise of its own; run "
            "more seeds of it, with the seeds the baseline ran, before trusting its comparison"
        )
    if grouping.left_out:
        print(f"left out ({len(grouping.left_out)}):")
        for item in grouping.left_out:
            print(f"  {item.run.name} ({item.run.run_id}): {item.reason}")
    print(f"\nnext: harness compare {output}")


def _where(location: str) -> str:
    """A local folder or file as its absolute path (so ``./wandb`` and ``wandb`` are one source
    on a re-import); anything else (a URI, ``entity/project``) as given."""
    path = Path(location)
    return str(path.resolve()) if path.exists() else location


def _seeds(seeds: Sequence[int]) -> str:
    return " ".join(map(str, seeds)) if len(seeds) <= 12 else f"{seeds[0]} ... {seeds[-1]}"


def _list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def _renames(items: Sequence[str]) -> dict[str, str]:
    renames = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UserError(f"--rename {item!r}: expected OLD=NEW")
        renames[old] = new
    return renames


def _default_name(location: str) -> str:
    from harness.study.sweep import sanitize_name

    stem = Path(location.rstrip("/")).name if "://" not in location else location.rsplit("/", 1)[-1]
    return sanitize_name(Path(stem).stem or stem or "imported")


class _progress:  # used like a function: `with _progress(...) as advance`
    """A rich progress bar on stderr (drawn only on a terminal); yields its step function."""

    def __init__(self, description: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        self._bar = Progress(console=console, transient=True, disable=not console.is_terminal)
        self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> Any:
        self._bar.start()
        return lambda: self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
