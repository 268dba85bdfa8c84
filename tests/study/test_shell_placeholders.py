"""Filling placeholders into a ``shell = true`` command: whatever a value holds and whatever
quoting surrounds the placeholder, a real shell sees the value as (part of) one word."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.study.shell_placeholders import UnsafePlaceholder, fill_shell_placeholders

# How the placeholder is written, and the one argument the shell must make of it.
QUOTINGS = {
    "{x}": "{x}",
    "'{x}'": "{x}",
    '"{x}"': "{x}",
    '"--x={x} end"': "--x={x} end",
    "'a'{x}'b'": "a{x}b",
    '"$(printf %s {x})"': "{x}",
    "\"$(printf %s '{x}')\"": "{x}",
}

# Values a shell reads as code or splits when quoted wrongly, then anything printable.
VALUES = st.one_of(
    st.sampled_from(
        [
            "$(touch PWNED)",
            "'; echo hi; '",
            '"; echo hi; "',
            "a b",
            "`id`",
            "\\",
            "l1\nl2\n",
            "t\tt",
            "'\"'",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)


def arguments(command: str) -> list[str]:
    """The arguments a real ``sh`` passes to a program for ``command``'s words."""
    done = subprocess.run(
        ["sh", "-c", f"printf '%s\\0' {command}"], capture_output=True, check=True, timeout=10
    )
    return done.stdout.decode().split("\0")[:-1]


@settings(max_examples=100, deadline=None)
@given(value=VALUES)
def test_every_quoting_gives_the_value_as_one_word(value: str) -> None:
    for written, expected in QUOTINGS.items():
        command = fill_shell_placeholders(written, {"x": value})
        words = arguments(command)
        if expected == "{x}" and "$(" in written and value.endswith("\n"):
            continue  # $(...) drops trailing newlines: the shell's rule, not a split
        assert words == [expected.replace("{x}", value)], (written, command)


def test_a_format_spec_and_other_braces_are_kept() -> None:
    command = fill_shell_placeholders("awk '{print $1}' {lr:.0e} '{lr}' {other}", {"lr": 0.001})
    assert arguments(command) == ["awk", "{print $1}", "1e-03", "0.001", "{other}"]


def test_a_number_goes_into_arithmetic_and_nothing_else_does() -> None:
    assert arguments(fill_shell_placeholders("$((29500 + {x}))", {"x": 7})) == ["29507"]
    with pytest.raises(UnsafePlaceholder, match=r"only a number"):
        fill_shell_placeholders("$((29500 + {x}))", {"x": "a[$(touch PWNED)]"})


@pytest.mark.parametrize(
    "command",
    [
        "$(( $(echo {x}) ))",
        "$(( '{x}' ))",
        "`echo {x}`",
        "${x}",
        "${{{x}}}",
        "\\{x}",
        "echo # {x}",
        "cat <<E\n{x}\nE",
    ],
)
def test_a_placeholder_no_quoting_makes_safe_is_refused(command: str) -> None:
    with pytest.raises(UnsafePlaceholder, match=r"\{x\}.*unquoted"):
        fill_shell_placeholders(command, {"x": "1"})
