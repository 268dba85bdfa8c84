"""The ``harness`` command line.

Each subcommand lives in ``harness/commands/<name>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen subcommand's module is
imported, and modules import torch inside ``run`` at the earliest, so ``harness --help`` and
``harness compare`` never pay for torch.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from harness import __version__
from harness.errors import StoreWarning, UserError
from harness.own_packages import keep_own_packages_first
from harness.processes import TERMINATED_EXIT_CODE, Terminated, raise_on_sigterm

# name -> (module, one-line help). The order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "study": ("study", "run every variant of a study across seeds (resumes where it stopped)"),
    "validate": ("validate", "check a study file and print the expanded run list, run nothing"),
    "runs": ("runs", "list a study's runs and their status"),
    "export": ("export", "export a study's results as parquet or csv"),
    "compare": ("compare", "effect sizes and CIs against seed noise; ranks only what separates"),
    "report": ("report", "a self-contained HTML/markdown report of a study"),
    "coordcheck": ("coordcheck", "muP coordinate check: PASS, FAIL or INCONCLUSIVE (a CI gate)"),
    "tune": ("tune", "seed-aware hyperparameter search through Optuna"),
    "bisect": ("bisect", "find the commit that made a metric worse, through seed noise"),
    "regress": ("regress", "CI gate: is HEAD worse than a reference revision?"),
    "import-commands": ("import_commands", "turn a 'name:command' list into a study file"),
    "import-runs": ("import_runs", "runs logged to wandb, TensorBoard, MLflow, CSV: a study"),
}


def _top_level_help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: harness [--version] <command> [options]",
        "",
        "A statistical ablation harness for transformer research.",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'harness <command> --help' for a command's options."]
    return "\n".join(lines)


@contextlib.contextmanager
def _store_warnings_as_lines(name: str) -> Iterator[None]:
    """Show each :class:`~harness.errors.StoreWarning` (a damaged store file) once, as
    ``harness <name>: warning: ...`` on stderr, instead of Python's two-line warning format."""
    shown: set[str] = set()

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, StoreWarning):
            previous(message, category, *args, **kwargs)
        elif str(message) not in shown:
            shown.add(str(message))
            print(f"harness {name}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", StoreWarning)
        previous = warnings.showwarning
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harness`` console script. Returns the process exit code."""
    keep_own_packages_first()  # before a command imports models, analysis or kernels
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_level_help())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"harness {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        from harness.errors import closest

        match = closest(name, COMMANDS)
        hint = f" (did you mean '{match}'?)" if match else ""
        print(f"harness: unknown command '{name}'{hint}\n\n{_top_level_help()}", file=sys.stderr)
        return 2
    try:  # Ctrl-C while the command's modules load: nothing started yet, nothing to say
        module = importlib.import_module(f"harness.commands.{COMMANDS[name][0]}")
        parser = argparse.ArgumentParser(prog=f"harness {name}", description=COMMANDS[name][1])
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
    except KeyboardInterrupt:
        print(f"\nharness {name}: interrupted", file=sys.stderr)
        return 130
    # SIGTERM (a scheduler's kill, `timeout`, systemd) unwinds like Ctrl-C: workers stopped,
    # claims released, finished runs kept; the exit status is 143 (128 + SIGTERM).
    raise_on_sigterm()
    try:
        with _store_warnings_as_lines(name):
            return int(module.run(args) or 0)
    except UserError as error:
        print(f"harness {name}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a full or read-only disk, no permission: one line, no traceback
        from harness.errors import os_error_message

        print(f"harness {name}: error: {os_error_message(error)}", file=sys.stderr)
        return UserError.exit_code
    except Terminated:
        print(
            f"\nharness {name}: terminated (SIGTERM); finished runs are on disk, run again to "
            "resume.",
            file=sys.stderr,
        )
        return TERMINATED_EXIT_CODE
    except KeyboardInterrupt:
        print(
            f"\nharness {name}: interrupted; finished runs are on disk, run again to resume.",
            file=sys.stderr,
        )
        return 130
