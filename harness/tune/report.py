"""What a search leaves for the reader: the summary, tables, importances and plot files."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from harness.tune.search import OUTCOME_ATTR, SEED_VALUES_ATTR, trial_variant_of
from harness.tune.winner import SeparationCheck

PLOTS = ("optimization_history", "parallel_coordinate", "param_importances", "intermediate_values")


def summarize(
    study: Any,
    *,
    check: SeparationCheck | None,
    storage: str,
    plots: dict[str, str],
    importances: dict[str, float],
) -> dict[str, Any]:
    """The ``--format json`` document."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state for t in trials) for state in TrialState}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    return {
        "study": study.study_name,
        "storage": storage,
        "dashboard": f"optuna-dashboard {storage}",
        "best_trial": best.number if best else None,
        "best_variant": trial_variant_of(best) if best else None,
        "best_params": dict(best.params) if best else None,
        "best_value": best.value if best else None,
        "best_seed_values": best.user_attrs.get(SEED_VALUES_ATTR) if best else None,
        "n_trials_complete": count[TrialState.COMPLETE],
        "n_trials_pruned": count[TrialState.PRUNED],
        "n_trials_diverged": sum(t.user_attrs.get(OUTCOME_ATTR) == "diverged" for t in trials),
        "n_trials_failed": count[TrialState.FAIL],
        "n_trials_running": count[TrialState.RUNNING],
        "importances": importances,
        "plots": plots,
        "separation_check": check.to_dict() if check else None,
    }


def param_importances(study: Any) -> dict[str, float]:
    """fANOVA importances of the searched parameters; empty when too few trials finished."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def save_plots(study: Any, directory: Path) -> dict[str, str]:
    """Write the plots as PNG files (Agg backend); returns name -> path of those written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in PLOTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the matplotlib backend is "experimental"
                axes = getattr(plots, f"plot_{name}")(study)
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue  # e.g. importances with fewer than 2 finished trials
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written[name] = str(path)
    return written


def print_report(console: Any, summary: dict[str, Any], *, metric: str, direction: str) -> None:
    """The best-params table, importances, the separation check and where things are."""
    from rich.table import Table

    if summary["best_params"] is None:
        console.print("[yellow]no trial completed yet")
    else:
        table = Table(
            title=f"best trial {summary['best_trial']}: {metric} {summary['best_value']:.4g} "
            f"({direction}, mean over search seeds)"
        )
        table.add_column("parameter", style="bold")
        table.add_column("value", justify="right")
        table.add_column("importance", justify="right")
        for name, value in summary["best_params"].items():
            importance = summary["importances"].get(name)
            table.add_row(
                name,
                f"{value:.4g}" if isinstance(value, float) else str(value),
                f"{importance:.2f}" if importance is not None else "",
            )
        console.print(table)
    console.print(
        f"trials: {summary['n_trials_complete']} complete, {summary['n_trials_pruned']} pruned "
        f"({summary['n_trials_diverged']} diverged), {summary['n_trials_failed']} failed"
    )
    check = summary["separation_check"]
    if check is not None:
        _print_check(console, check, metric=metric)
    for name, path in summary["plots"].items():
        console.print(f"plot {name}: {path}")
    console.print(f"dashboard: {summary['dashboard']}")


def _print_check(console: Any, check: dict[str, Any], *, metric: str) -> None:
    from rich.table import Table

    seeds = ",".join(map(str, check["fresh_seeds"]))
    table = Table(title=f"separation check: top trials on fresh seeds {seeds}")
    for column in ("trial", "params", "search", "fresh mean", ""):
        table.add_column(column, justify="right" if column else "left")
    for candidate in check["candidates"]:
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in candidate["params"].items()
        )
        fresh = candidate["fresh_mean"]
        mark = "winner" if candidate["trial"] == check["winner"] else ""
        if not mark and check["verdict"] == "tie" and candidate["trial"] in check["tied"]:
            mark = "tied"
        table.add_row(
            str(candidate["trial"]),
            params,
            f"{candidate['search_value']:.4g}",
            f"{fresh:.4g}" if fresh is not None else "n/a",
            mark,
        )
    console.print(table)
    colour = {"winner": "green", "tie": "yellow", "skipped": "red"}[check["verdict"]]
    console.print(f"[{colour}]{check['verdict']}[/]: {check['reason']}")
