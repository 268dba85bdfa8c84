"""muTransfer: apply the hyperparameters found on a small proxy to a target model.

``harness tune S.toml --transfer-width 512`` (short for ``--transfer model.n_embd=512``; any
config key works, several may be given) reads the finished search and writes a new study
file: the searched variant's resolved config with the target values as ``[base]``, and two
variants at the target size — ``default`` (the proxy's untuned values) and ``tuned`` (the
search's choice, as plain overrides). ``harness study`` runs it and ``harness compare`` says
whether the tuned values still help at the target, so a transfer is checked, not assumed.

Why it can work: under muP (``model.parametrization = "mup"``) the optimal learning rate and
init scale are, to first order, independent of width, so what is found at the proxy width
holds at the target width — provided the muP base shapes stay those of the proxy (they are
copied from the proxy's config unchanged). Under standard parametrization the optimal LR
shrinks as width grows, and a transferred LR is usually too large.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import SpecError
from harness.study.search import SearchConfig
from harness.study.spec import StudySpec, parse_study
from harness.study.tables import deep_merge, nest, parse_assignment

CHECK_ATTR = "harness_separation_check"
WIDTH_KEY = "model.n_embd"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["model.n_embd=512"]`` -> ``{"model.n_embd": 512}`` (values read as TOML, like --set)."""
    return dict(parse_assignment(a, flag="--transfer") for a in assignments)


def chosen_trial(study: Any) -> tuple[Any, str]:
    """The trial to transfer and why: the named winner, else the best fresh mean of the tied
    set, else (no check stored) the best search value."""
    from optuna.trial import TrialState

    complete = {t.number: t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    if not complete:
        raise SpecError("the search has no complete trial yet; run 'harness tune' first")
    check = study.user_attrs.get(CHECK_ATTR) or {}
    if check.get("verdict") == "winner" and check.get("winner") in complete:
        return complete[check["winner"]], "the winner of the separation check"
    if check.get("verdict") == "tie" and check.get("tied") and check["tied"][0] in complete:
        tied = ", ".join(map(str, check["tied"]))
        return complete[check["tied"][0]], f"the best fresh-seed mean of the tied trials {tied}"
    return study.best_trial, "the best search value (no separation check was run)"


def transfer_study(
    spec: StudySpec, search: SearchConfig, trial: Any, targets: Mapping[str, Any], *, basis: str
) -> tuple[str, StudySpec, list[str]]:
    """The transfer study file's text, the study it parses to, and warnings for the reader."""
    proxy = spec.variant(search.variant)
    base = deep_merge(proxy.config, nest(targets))
    # A searched key that is also a target (say, the width) takes the target's value.
    tuned = {k: v for k, v in trial.params.items() if k not in targets}
    overridden = [f"{k} (searched {trial.params[k]!r})" for k in trial.params if k in targets]
    slug = "-".join(f"{k.rsplit('.', 1)[-1]}{v}" for k, v in targets.items())
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{spec.name}-transfer-{slug}")
    raw = {
        "study": {
            "name": name,
            "description": f"{spec.name}'s tuned values (trial {trial.number}, {basis}) at "
            + ", ".join(f"{k} = {v}" for k, v in targets.items()),
            "metric": spec.metric,
            "direction": spec.direction,
            "seeds": list(spec.seeds),
            "baseline": "default",
        },
        "base": base,
        "variants": {"default": {}, "tuned": nest(tuned)},
    }
    try:
        transferred = parse_study(raw)
    except SpecError as error:
        raise SpecError(
            f"the transfer does not make a valid study: {error.message}",
            key=error.key,
            suggestion=error.suggestion,
        ) from None
    header = (
        f"# Written by 'harness tune --transfer' from the search '{search.study_name}'\n"
        f"# (study file {spec.source}): trial {trial.number}, {basis}.\n"
        "# Run it with 'harness study' and check the transfer with 'harness compare'.\n\n"
    )
    text = header + to_toml(raw)
    if tomllib.loads(text) != json.loads(json.dumps(raw)):  # the writer must round-trip
        raise AssertionError("transfer study does not round-trip through TOML")
    warnings = _warnings(base, targets)
    if overridden:
        warnings.append(f"the target value replaces the tuned one for {', '.join(overridden)}")
    return text, transferred, warnings


def _warnings(base: Mapping[str, Any], targets: Mapping[str, Any]) -> list[str]:
    if WIDTH_KEY not in targets:
        return []
    parametrization = base.get("model", {}).get("parametrization", "sp")
    if parametrization == "mup":
        return []
    return [
        f"model.parametrization is {parametrization!r}: under standard parametrization the "
        "optimal learning rate shifts with width, so the proxy's LR may not transfer; search "
        "under model.parametrization = 'mup' to transfer across width."
    ]


def write_transfer(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def to_toml(table: Mapping[str, Any]) -> str:
    """A TOML document for a mapping of tables, scalars and lists (what study files hold)."""
    lines: list[str] = []
    _emit(table, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    if path and (scalars or not tables):
        lines.append("")
    for key, value in tables.items():
        _emit(value, [*path, key], lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")
