"""The study-file parser on any input: a StudySpec or a clear error, never an uncaught exception.

Three levels, each bounded to run in a few seconds: raw bytes (decoding, TOML), TOML text built
from study-shaped tables with hostile values (names, commands, env, params, seeds, numbers),
and the parsed mapping itself (``parse_study`` on any nested value).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.study.spec import StudySpec, load_study, parse_study

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def outcome(path: Path) -> StudySpec | UserError:
    """What ``load_study`` gives: a spec or a clear error (SpecError is a UserError). Any other
    exception propagates and fails the property."""
    try:
        return load_study(path)
    except UserError as error:
        assert str(error).strip(), "an error with no message"
        return error


@SETTINGS
@given(data=st.binary(max_size=400))
def test_any_bytes_give_a_spec_or_a_clear_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes(data)
    result = outcome(path)
    if isinstance(result, UserError):
        assert str(path) in str(result)


# Values a study file may hold, hostile ones included: control characters, quotes, NUL,
# non-finite floats, huge integers, nested lists and tables.
texts = st.lists(
    st.sampled_from([*"ab_-.{}'\"\\/ =\n\r\t\x00é", "{seed}", "{run_dir}", "{x"]), max_size=8
).map("".join)
scalars = st.one_of(
    texts,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
names = st.one_of(st.sampled_from(["a", "b", "base_line", "x.y", "a\n", ".", ".."]), texts)


def toml_value(value: Any) -> str:
    """``value`` as TOML: JSON strings are TOML basic strings (escapes included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four: most examples get past the first check to the later ones."""
    return st.integers(0, 3).flatmap(lambda n: bad if n == 0 else good)


@st.composite
def study_texts(draw: st.DrawFn) -> str:
    study = {
        "name": draw(mostly(st.sampled_from(["s", "s.1", "s-2"]), st.one_of(names, values))),
        "seeds": draw(mostly(st.integers(1, 3), st.one_of(st.integers(-2, 5), values))),
    }
    optional = {
        "metric": st.just("val_loss"),
        "direction": st.sampled_from(["minimize", "maximize"]),
        "baseline": names,
        "description": texts,
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        study[key] = draw(mostly(optional[key], st.one_of(names, values)))
    base: dict[str, Any] = {"command": draw(mostly(texts.map(lambda t: "run " + t), values))}
    for key in draw(st.sets(st.sampled_from(["shell", "env", "params", "cwd", "metrics", "x"]))):
        base[key] = draw(values)
    lines = ["[study]"]
    lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in study.items()]
    lines += ["[base]"]
    lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in base.items()]
    for name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        lines.append(f"[variants.{json.dumps(name)}]")
        keys = st.sampled_from(["command", "params", "env", "shell"])
        overrides = draw(st.dictionaries(keys, values, max_size=2))
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"


@SETTINGS
@given(text=study_texts())
def test_study_shaped_files_give_a_spec_or_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = outcome(path)
    if isinstance(result, StudySpec):  # what was accepted can be run: names are directories
        for name in [result.name, *(v.name for v in result.variants)]:
            assert name.isprintable() and "/" not in name and name not in (".", "..")


@SETTINGS
@given(raw=st.dictionaries(st.sampled_from(["study", "base", "variants", "sweep"]), values))
def test_any_parsed_mapping_gives_a_spec_or_a_clear_error(raw: dict[str, Any]) -> None:
    try:
        parse_study(raw)
    except UserError as error:
        assert str(error).strip()
