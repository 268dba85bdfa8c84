"""``--set KEY=VALUE`` reads KEY and VALUE as TOML would, and every example in the docs runs.

The key is a TOML key (quoted parts may hold dots), the value a TOML value (or a plain string
when it is not one). The last test collects every ``--set`` printed in docs/*.md, README.md and
the comments of the study files, and validates each on the study it names.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SpecError
from harness.study.spec import load_study
from harness.study.tables import (
    format_key,
    get_dotted,
    nest,
    parse_assignment,
    set_dotted,
    split_key,
)

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "studies"


@pytest.mark.parametrize(
    ("assignment", "key", "value"),
    [
        ("base.train.lr=3e-4", "base.train.lr", 3e-4),
        ("base.train.steps = 50", "base.train.steps", 50),
        ("wandb.enabled=true", "wandb.enabled", True),
        ('study.name="x.y"', "study.name", "x.y"),
        ("study.name=plain", "study.name", "plain"),  # not TOML: taken as a string
        ('sweep.parameters."model.n_layer"=[2, 4]', 'sweep.parameters."model.n_layer"', [2, 4]),
        ("sweep.parameters.'model.n_layer'=[2]", 'sweep.parameters."model.n_layer"', [2]),
        ('a."b=c".d=1', 'a."b=c".d', 1),  # the = inside quotes is part of the key
        ('a . "b" . c=1', "a.b.c", 1),  # whitespace around dots, a quoted bare part
        (
            "search.storage=postgresql://u:p@h:5432/db",
            "search.storage",
            "postgresql://u:p@h:5432/db",
        ),
        ("x.y={ a = 1 }", "x.y", {"a": 1}),
    ],
)
def test_an_assignment_parses_as_toml(assignment: str, key: str, value: object) -> None:
    assert parse_assignment(assignment) == (key, value)


@pytest.mark.parametrize("assignment", ["nonsense", "=1", "a b=1", '"unclosed=1', "a..b=1"])
def test_a_bad_assignment_is_a_spec_error(assignment: str) -> None:
    with pytest.raises(SpecError):
        parse_assignment(assignment)


def test_keys_split_and_format_like_toml() -> None:
    assert split_key('sweep.parameters."model.n_layer"') == ["sweep", "parameters", "model.n_layer"]
    assert split_key("train.lr") == ["train", "lr"]
    for parts in (["a", "b.c"], ["x y", "z"], ['q"uote', "é"], ["plain-key_1"]):
        written = format_key(parts)
        assert split_key(written) == parts
        # and TOML itself reads it the same way
        assert get_dotted(tomllib.loads(f"{written} = 1"), written) == 1


def test_set_and_nest_use_the_toml_key() -> None:
    table: dict[str, object] = {}
    set_dotted(table, 'sweep.parameters."model.n_layer"', [2, 4])
    assert table == {"sweep": {"parameters": {"model.n_layer": [2, 4]}}}
    assert nest({"train.lr": 1e-3, '"a.b".c': 1}) == {"train": {"lr": 1e-3}, "a.b": {"c": 1}}


def test_the_nanoheads_sweep_override_replaces_the_sweep_points() -> None:
    spec = load_study(
        STUDIES / "nanoheads.toml",
        overrides=['sweep.parameters."model.nanohead_proportion"=[0.0, 0.25]'],
    )
    values = sorted(v.config["model"]["nanohead_proportion"] for v in spec.variants)
    assert values == [0.0, 0.25]


def test_a_bad_key_names_the_flag_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["validate", str(STUDIES / "nanoheads.toml"), "--runs-dir", str(tmp_path),
         "--set", "sweep.parameters.model.nanohead proportion=[0.1]"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "not a valid key" in err and "nanoheads.toml" in err


# -- every --set example printed in the docs and study files ---------------------------------

SET_EXAMPLE = re.compile(r"""--set\s+('[^']*'|"[^"]*"|[^\s`'"]+)""")
STUDY_PATH = re.compile(r"studies/[\w/.-]+?\.toml")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`]+)`")
# written as syntax, not as a value to run: --set executor.KEY=VALUE, --set search.storage=...
PLACEHOLDER = re.compile(r"KEY=VALUE|=\.\.\.$")
DEFAULT_STUDY = "studies/bos_protection.toml"  # README's "harness study S.toml --set ..."


def commands(path: Path) -> list[tuple[int, str]]:
    """(offset, text) of each command line in a doc: a fenced code block's lines or an inline
    code span (README, docs), or a comment line (study files); ``\\``-continued lines join."""
    text = path.read_text()
    if path.suffix == ".toml":
        return _joined((m.start(), m.group(1) + "\n") for m in re.finditer(r"#([^\n]*)", text))
    lines = []
    for block in FENCE.finditer(text):  # a fenced block: one command per (continued) line
        offset = block.start(1)
        for line in block.group(1).split("\n"):
            lines.append((offset, line + "\n"))
            offset += len(line) + 1
    prose = FENCE.sub(lambda m: " " * len(m.group()), text)
    spans = [(m.start(1), m.group(1).replace("\n", " ")) for m in INLINE_CODE.finditer(prose)]
    return _joined(lines) + spans


def _joined(lines: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    joined: list[tuple[int, str]] = []
    for offset, line in lines:
        if joined and joined[-1][1].endswith("\\\n"):  # continues the line above
            joined[-1] = (joined[-1][0], joined[-1][1][:-2] + " " + line)
        else:
            joined.append((offset, line))
    return joined


def documented_examples() -> list[tuple[str, str, list[str]]]:
    """(where, study file, assignments) for every command with ``--set`` in the docs and
    study files; a command's assignments are validated together (some need each other)."""
    sources = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    study_files = sorted(STUDIES.glob("*.toml")) + sorted(STUDIES.glob("examples/*.toml"))
    examples = []
    for path in sources + study_files:
        text = path.read_text()
        for offset, command in commands(path):
            assignments = [shlex.split(m.group(1))[0] for m in SET_EXAMPLE.finditer(command)]
            # a KEY=VALUE after --set; "--set cannot reach ..." in prose is no example
            assignments = [a for a in assignments if "=" in a and not PLACEHOLDER.search(a)]
            if not assignments:
                continue
            named = STUDY_PATH.findall(command)
            if path.suffix == ".toml":
                study = str(path.relative_to(ROOT))
            else:
                study = named[0] if named else named_study(text, offset)
            line = text.count("\n", 0, offset) + 1
            examples.append((f"{path.relative_to(ROOT)}:{line}", study, assignments))
    return examples


def named_study(text: str, position: int) -> str:
    """The study file a doc example is for: one named in its paragraph (the nearest), else
    the last one named before it in the document, else the default."""
    start = text.rfind("\n\n", 0, position) + 1
    end = text.find("\n\n", position)
    paragraph = [
        (abs(m.start() + start - position), m.group())
        for m in STUDY_PATH.finditer(text[start : end if end >= 0 else len(text)])
    ]
    if paragraph:
        return min(paragraph)[1]
    before = STUDY_PATH.findall(text[:position])
    return before[-1] if before else DEFAULT_STUDY


EXAMPLES = documented_examples()


def test_the_docs_have_set_examples_to_check() -> None:
    # the collector is not silently finding nothing (the nanoheads sweep override among them)
    assert sum(len(assignments) for _, _, assignments in EXAMPLES) >= 40
    assert any(
        any('"model.nanohead_proportion"' in a for a in assignments)
        for _, _, assignments in EXAMPLES
    )


@pytest.mark.parametrize(("where", "study", "assignments"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_documented_set_example_validates(
    where: str,
    study: str,
    assignments: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sets = [arg for assignment in assignments for arg in ("--set", assignment)]
    code = main(["validate", str(ROOT / study), "--runs-dir", str(tmp_path), *sets])
    err = capsys.readouterr().err
    assert code == 0, f"{where}: harness validate {study} {shlex.join(sets)}: {err}"
