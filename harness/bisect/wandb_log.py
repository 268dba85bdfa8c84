"""``harness bisect`` and ``harness regress`` logged to wandb, as a study is: one wandb run per
tested commit, grouped by invocation, each with its estimate against the reference, its
interval and verdict, and the command's outcome, in the summary.

The switch is the study's: the study file's ``[wandb]`` table and ``--no-wandb``
(:func:`harness.run.runner.wandb_settings`, job type "bisect" or "regress"), offline without
an API key. The files go under the commits study directory (``<study dir>/wandb/``). A wandb
failure is printed and never changes the outcome or the exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.worker.wandb_sink import LoggedRun, log_runs

ESTIMATE_KEYS = ("diff", "ci_low", "ci_high", "p_value", "effect_size", "n_pairs")


def bisect_runs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One wandb run per commit ``harness bisect`` tested, from its JSON (``to_dict``).

    Returns:
        ``{"name", "key", "config", "summary"}`` per tested commit, in the order tested; the
        summary holds the verdict, the seeds, the estimate against the good endpoint with its
        interval (when there is one) and the bisect's outcome.
    """
    outcome = {
        "bisect/outcome": payload["outcome"],
        "bisect/first_bad": payload.get("first_bad"),
        "bisect/exit_code": payload.get("exit_code"),
    }
    runs = []
    for tested in payload["tested"]:
        estimate = tested.get("vs_good") or {}
        runs.append(
            {
                "name": f"{tested['position']}-{tested['short']}",
                "key": tested["short"],
                "config": {
                    key: tested[key] for key in ("commit", "short", "subject", "position", "role")
                },
                "summary": {
                    "verdict": tested["verdict"],
                    "forced": tested["forced"],
                    "seeds": tested["seeds"],
                    **{key: estimate[key] for key in ESTIMATE_KEYS if key in estimate},
                    **({"error": tested["error"]} if tested.get("error") else {}),
                    **outcome,
                },
            }
        )
    return runs


def regress_runs(payload: dict[str, Any], *, head: str, reference: str | None) -> list[dict]:
    """The wandb runs of ``harness regress``: HEAD (or the working tree) with the gate's
    outcome, its estimate against the reference and its interval, and the reference commit
    when one was measured (``reference``: its short sha; None for stored results).

    Returns:
        ``{"name", "key", "config", "summary"}`` per measured commit.
    """
    estimate = payload.get("comparison") or {}
    outcome = {
        "regress/outcome": payload["outcome"],
        "regress/exit_code": payload.get("exit_code"),
        "regress/tolerance": payload.get("tolerance"),
    }
    runs = [
        {
            "name": f"head-{head}",
            "key": head,
            "config": {"role": "head", "commit": payload.get("head_commit"), "short": head},
            "summary": {
                "verdict": payload["outcome"],
                **{key: estimate[key] for key in ESTIMATE_KEYS if key in estimate},
                **outcome,
            },
        }
    ]
    if reference is not None:
        runs.append(
            {
                "name": f"reference-{reference}",
                "key": reference,
                "config": {"role": "reference", "short": reference},
                "summary": {"verdict": "reference", **outcome},
            }
        )
    return runs


def log_commit_runs(
    runs: list[dict[str, Any]], *, wandb: dict[str, Any], group: str, study_dir: Path
) -> int:
    """Start, summarise and finish one wandb run per entry of ``runs``
    (:func:`harness.worker.wandb_sink.log_runs`).

    Args:
        runs: :func:`bisect_runs` or :func:`regress_runs`.
        wandb: the resolved settings (:func:`harness.run.runner.wandb_settings`).
        group: the wandb group: the invocation (command and revisions).
        study_dir: the commits study; wandb's files go under it.

    Returns:
        How many wandb runs were started (0 when wandb is off).
    """
    logged = (LoggedRun(**run) for run in runs)  # a commit stands for all its seeds: seed 0
    return log_runs(logged, wandb=wandb, group=group, run_dir=study_dir)
