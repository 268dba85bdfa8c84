"""Warnings about a valid study that will probably not measure what it should.

Errors stop a study at the door (:mod:`harness.study.spec`); these only warn, because harness
cannot know for sure: a script may read ``$HARNESS_SEED`` itself, and a results file may hold
any metric. ``harness validate`` and ``harness study`` print them before anything runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

from harness.errors import closest
from harness.study.command_config import parse_command_config
from harness.study.env_table import REFERENCE
from harness.study.metrics import declared_metric_names, pattern_metric_names

SEED_PLACEHOLDER = re.compile(r"\{seed[:!}]")  # {seed}, {seed:03d}
SEED_VARIABLE = "HARNESS_SEED"


class StudyLike(Protocol):
    """What the checks read of a study (``harness.study.spec.StudySpec`` has it)."""

    @property
    def metric(self) -> str: ...

    @property
    def variants(self) -> tuple[Any, ...]: ...


def study_warnings(spec: StudyLike, environ: Mapping[str, str] | None = None) -> list[str]:
    """What looks wrong with a study's command variants, one sentence each.

    Args:
        spec: the validated study.
        environ: the environment the runs would be launched from (default: this process's).

    Returns:
        Warnings naming the variant: a command that never receives the seed, a study
        metric that none of the variant's declared metrics sources can report, regexes read
        in several log files (a metric printed in two would come from two sources), and an ``env``
        reference (``${HF_TOKEN}``) to a variable that is not set (each variable once).
    """
    warnings = []
    environ = os.environ if environ is None else environ
    unset: set[str] = set()
    for variant in spec.variants:
        if variant.kind != "command":
            continue
        config = variant.config
        if not receives_seed(config):
            warnings.append(
                f"variants.{variant.name}: the command never receives the seed (no {{seed}} in "
                f"its command, params or env): every seed would run the same. Add e.g. "
                f"'--seed {{seed}}' to the command, or read ${SEED_VARIABLE} in the script."
            )
        for name, value in config.get("env", {}).items():
            for variable in REFERENCE.findall(str(value)):
                if variable not in environ and variable not in unset:
                    unset.add(variable)
                    warnings.append(
                        f"variants.{variant.name}.env.{name}: refers to ${{{variable}}}, which "
                        f"is not set here; a run launched from this environment fails. Set it "
                        f"(export {variable}=...) before running the study."
                    )
        metrics = parse_command_config(config, where=f"variants.{variant.name}").metrics
        if metrics is not None:
            names = declared_metric_names(metrics)
            if names is not None and spec.metric not in names:
                suggestion = closest(spec.metric, names)
                typo = f" (did you mean '{suggestion}'?)" if suggestion else ""
                warnings.append(
                    f"variants.{variant.name}.metrics: the study metric '{spec.metric}' comes "
                    f"from no declared source (the patterns name: {', '.join(sorted(names))})"
                    f"{typo}; every run would fail. Name a group "
                    f"(?P<{_group(spec.metric)}>...)."
                )
            named = pattern_metric_names(metrics)
            if named and len(metrics.log) > 1:
                warnings.append(
                    f"variants.{variant.name}.metrics.log: its patterns are read in each of its "
                    f"{len(metrics.log)} log files ({', '.join(metrics.log)}), so a metric they "
                    f"name ({', '.join(sorted(named))}) printed in two of them would come from "
                    "two sources, and the first run to show it would stop the study. Keep each "
                    "metric to one file, or declare one log."
                )
    return warnings


def receives_seed(config: Mapping[str, Any]) -> bool:
    """Whether a command config passes the seed: ``{seed}`` in its command, a ``params`` or an
    ``env`` value, or ``$HARNESS_SEED`` in a shell command."""
    texts = [str(config.get("command", ""))]
    texts += [str(v) for v in config.get("params", {}).values()]
    texts += [str(v) for v in config.get("env", {}).values()]
    return any(SEED_PLACEHOLDER.search(text) or SEED_VARIABLE in text for text in texts)


def _group(metric: str) -> str:
    return metric.replace("/", "__")
