"""``harness import-runs``' one entry point: runs logged elsewhere become a read-only study.

Reads wandb run folders or a wandb project, TensorBoard logs, an MLflow store, Lightning CSV
logs or a CSV table (docs/importing.md), groups the runs into variants and seeds from their
configs, and writes them as a read-only study that ``harness compare``, ``report`` and
``export`` read like any other. Importing again adds new and finished runs and rewrites only
the runs that changed; the original logs are only read. Never imports torch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.verdict import Direction
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.importers._base import LogSource
    from harness.importers.grouping import Grouping
    from harness.importers.study import WriteOutcome

SOURCES = ("wandb", "wandb-api", "tensorboard", "mlflow", "lightning", "csv")


@dataclass(frozen=True, kw_only=True)
class ImportSettings:
    """What ``harness import-runs`` was asked.

    Attributes:
        source: one of :data:`SOURCES`.
        location: the folder, file, URI or entity/project to read.
        output: the study folder to write; None for ``<runs dir>/<name>``.
        runs_dir: the runs root (None: ``$HARNESS_RUNS_DIR`` or ``./runs``).
        name: the study name (None: the output folder's).
        metric: the primary metric (None: chosen from the runs, or the earlier import's).
        direction: whether lower or higher is better (None: from the metric's name).
        variant_by: the config keys that tell variants apart (None: the keys that differ).
        seed_key: the config key of the seed (None: found).
        baseline: the baseline variant (None: the one with most seeds).
        rename: ``OLD=NEW`` metric renames.
        group, tags, state: wandb-api filters.
        experiment: MLflow's experiment (None: all).
        run_column, step_column, config_columns: a CSV table's column mapping.
    """

    source: str
    location: str
    output: Path | None = None
    runs_dir: str | Path | None = None
    name: str | None = None
    metric: str | None = None
    direction: Direction | None = None
    variant_by: tuple[str, ...] | None = None
    seed_key: str | None = None
    baseline: str | None = None
    rename: tuple[str, ...] = ()
    group: str | None = None
    tags: tuple[str, ...] = ()
    state: str | None = None
    experiment: str | None = None
    run_column: str | None = None
    step_column: str | None = None
    config_columns: tuple[str, ...] = ()


def import_runs(settings: ImportSettings) -> int:
    """Import the runs ``settings`` names into a read-only study and print what was imported.

    Returns:
        0.

    Raises:
        UserError: (``ImportFailure`` included) a location that holds no runs harness can
            read, an output folder holding another import, or flags that do not fit it.
    """
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
        settings.output
        if settings.output
        else runs_root(settings.runs_dir) / (settings.name or _default_name(settings.location))
    )
    name = settings.name or output.name
    stored = stored_import(output)
    location = _where(settings.location)
    if stored is not None and (stored.get("source"), stored.get("location")) != (
        settings.source,
        location,
    ):
        raise UserError(
            f"{output} holds runs imported from {stored.get('source')} {stored.get('location')}; "
            "import this source into another folder"
        )
    variant_by = list(settings.variant_by) if settings.variant_by else None
    seed_key = settings.seed_key
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
    source = _source(settings)
    refs = source.find_runs()
    renames = _renames(settings.rename)
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
        raise UserError(f"{settings.location}: no run could be read ({shown})")
    runs = rename_metrics(runs, renames)
    metric = choose_metric(runs, settings.metric or (stored or {}).get("metric"))
    direction = choose_direction(metric, settings.direction)
    baseline = settings.baseline or (stored or {}).get("baseline")
    try:
        grouping = group_runs(runs, variant_by=variant_by, seed_key=seed_key, baseline=baseline)
    except ImportFailure:
        if settings.baseline or baseline is None:
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
        settings, output, grouping, outcome, metric=metric, direction=direction, runs=len(refs)
    )
    for line in [f"{u.label}: could not be read: {u.reason}" for u in unreadable] + missing:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def _source(settings: ImportSettings) -> LogSource:
    if settings.source == "wandb":
        from harness.importers.wandb_local import WandbLocalSource

        return WandbLocalSource(settings.location)
    if settings.source == "wandb-api":
        from harness.importers.wandb_api import WandbApiSource

        return WandbApiSource(
            settings.location, group=settings.group, tags=list(settings.tags), state=settings.state
        )
    if settings.source == "tensorboard":
        from harness.importers.tensorboard import TensorBoardSource

        return TensorBoardSource(settings.location)
    if settings.source == "mlflow":
        from harness.importers.mlflow import MlflowSource

        return MlflowSource(settings.location, experiment=settings.experiment)
    if settings.source == "lightning":
        from harness.importers.csv import LightningCsvSource

        return LightningCsvSource(settings.location)
    from harness.importers.csv import CsvTableSource

    return CsvTableSource(
        settings.location,
        run_column=settings.run_column,
        step_column=settings.step_column,
        # a named variant or seed key is config, whatever its column holds
        config_columns=[
            *settings.config_columns,
            *(settings.variant_by or ()),
            *([settings.seed_key] if settings.seed_key else []),
        ],
    )


def _print_summary(
    settings: ImportSettings,
    output: Path,
    grouping: Grouping,
    outcome: WriteOutcome,
    *,
    metric: str,
    direction: str,
    runs: int,
) -> None:
    print(
        f"imported {len(grouping.members)} of {runs} runs from {settings.source} "
        f"{settings.location} "
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
