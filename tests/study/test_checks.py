"""validate's warnings (harness.study.checks): a study metric no declared regex names says
which name is closest, for the typo it most likely is (issue 31)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.study.checks import study_warnings


@dataclass(frozen=True)
class Variant:
    name: str
    config: dict[str, Any]
    kind: str = "command"


@dataclass(frozen=True)
class Study:
    metric: str
    variants: tuple[Variant, ...]


def test_a_metric_no_regex_names_is_warned_with_the_closest_name() -> None:
    config = {
        "command": "python t.py --seed {seed}",
        "metrics": {"stdout": [r"eval loss (?P<eval_loss>\S+)", r"train (?P<train_loss>\S+)"]},
    }
    warnings = study_warnings(Study(metric="eval/loss", variants=(Variant("a", config),)))
    assert len(warnings) == 1
    assert "the study metric 'eval/loss' comes from no declared source" in warnings[0]
    assert "did you mean 'eval_loss'" in warnings[0]


def test_a_metric_a_regex_names_is_no_warning() -> None:
    config = {
        "command": "python t.py --seed {seed}",
        "metrics": {"stdout": [r"eval loss (?P<eval__loss>\S+)"]},
    }
    assert study_warnings(Study(metric="eval/loss", variants=(Variant("a", config),))) == []
