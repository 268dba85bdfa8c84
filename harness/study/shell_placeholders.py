"""Placeholders in a ``shell = true`` command, filled in so that a value is one word to the
shell, never code it runs, whatever quoting the study wrote around the placeholder.

A value is quoted with ``shlex.quote`` where the placeholder stands unquoted (``{lr}``); inside
single or double quotes (``'{lr}'``, ``"--lr={lr}"``) the surrounding quote is closed, the
quoted value put in, and the quote reopened, so the word stays one word and the value is never
read inside the user's quotes (where ``$(...)`` or a ``'`` would escape). The command is read
with the shell's quoting rules: backslashes, ``'...'``, ``"..."`` and ``$(...)`` (inside or
outside double quotes); inside ``$((...))``, which evaluates its text again, only a number goes
in. Where no quoting can be made safe (inside backquotes, ``${...}``, ``$'...'``, a comment, a
here-document, right after ``$`` or a backslash), the placeholder is refused with
:class:`UnsafePlaceholder`, which validation turns into a message.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Mapping
from typing import Any

# The write-up every refusal ends with: the form that is always safe.
RIGHT_FORM = "write the placeholder unquoted, as {name} (harness quotes its value)"


NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")
_CONVERSIONS: dict[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}


class UnsafePlaceholder(ValueError):
    """A placeholder in a shell command where no quoting of its value can be made safe."""


def fill_shell_placeholders(command: str, values: Mapping[str, Any]) -> str:
    """``command`` with every placeholder named in ``values`` filled in, each value one word.

    Args:
        command: a ``shell = true`` command line; ``{name}`` (and ``{name:spec}``) for each
            key of ``values``; other ``{...}`` (a JSON literal, an awk program) stay as written.
        values: the placeholder values of the run.

    Returns:
        The command line to give the shell.

    Raises:
        UnsafePlaceholder: a placeholder stands where its value could not be quoted safely;
            the message names it and says where to write it instead.
    """
    try:
        pieces = list(string.Formatter().parse(command))
    except ValueError:  # an unmatched brace: nothing is a placeholder, as str.format would say
        return command
    scanner = _Scanner()
    out: list[str] = []
    for literal, field, spec, conversion in pieces:
        scanner.feed(literal)
        out.append(literal)
        if field is None:
            continue
        if field not in values:  # not a placeholder: kept as written, and read as shell text
            kept = "{" + field + (f"!{conversion}" if conversion else "")
            kept += (f":{spec}" if spec else "") + "}"
            scanner.feed(kept)
            out.append(kept)
            continue
        value = values[field]
        if conversion:
            value = _CONVERSIONS[conversion](value)
        text = format(value, spec or "")
        word = shlex.quote(text)
        context = scanner.context(field)
        if context == "arithmetic":  # $((...)) evaluates its text again: numbers only
            if not NUMBER.fullmatch(text):
                raise UnsafePlaceholder(
                    f"the placeholder {{{field}}} stands inside $((...)), where only a number "
                    f"is safe, and its value is {text!r:.60}: "
                    + RIGHT_FORM.replace("{name}", "{" + field + "}")
                )
            word, context = text, "code"
        scanner.previous = "x"  # a word's characters: a '#' right after it starts no comment
        out.append({"code": word, "single": f"'{word}'", "double": f'"{word}"'}[context])
    return "".join(out)


class _Scanner:
    """Where in the shell's grammar the text fed so far ends: a stack of open constructs."""

    def __init__(self) -> None:
        self.stack: list[str] = ["code"]
        self.depth: list[int] = [0]  # open parentheses in each code frame
        self.escaped = False
        self.previous = ""
        self.unsure: str | None = None  # a construct after which the rest cannot be read

    def context(self, name: str) -> str:
        """How a value goes in here: "code", "single", "double" or "arithmetic" (a number
        only); else UnsafePlaceholder."""
        top = self.stack[-1]
        why = self.unsure
        if self.escaped:
            why = "right after a backslash"
        elif top in ("code", "double", "arithmetic") and self.previous == "$":
            why = "right after '$' (${...} or $'...')"
        elif top == "backquote":
            why = "inside backquotes `...` (write $(...) instead)"
        elif top == "brace":
            why = "inside ${...}"
        elif top == "ansi":
            why = "inside $'...'"
        elif top == "comment":
            why = "in a comment"
        elif top != "arithmetic" and "arithmetic" in self.stack:
            why = "within $((...)), which evaluates its text again"
        if why is not None:
            shown = RIGHT_FORM.replace("{name}", "{" + name + "}")
            raise UnsafePlaceholder(f"the placeholder {{{name}}} stands {why}: {shown}")
        return top

    def feed(self, text: str) -> None:
        index = 0
        while index < len(text):
            index += self._step(text, index)

    def _step(self, text: str, index: int) -> int:
        """Read the construct at ``text[index]``; returns how many characters it took."""
        char = text[index]
        ahead = text[index + 1 : index + 2]
        top = self.stack[-1]
        prior, self.previous = self.previous, char
        if self.escaped:
            self.escaped = False
            return 1
        if top == "single":
            if char == "'":
                self._pop()
            return 1
        if top == "comment":
            if char == "\n":
                self._pop()
            return 1
        if char == "\\" and top != "brace":
            self.escaped = True
            return 1
        if top in ("backquote", "ansi", "brace"):
            closing = {"backquote": "`", "ansi": "'", "brace": "}"}[top]
            if char == closing:
                self._pop()
            return 1
        if char == "`":
            self._push("backquote")
        elif char == "$" and text[index + 1 : index + 3] == "((":
            self._push("arithmetic")
            self.previous = "("
            return 3
        elif char == "$" and ahead == "(":
            self._push("code")
            self.previous = "("
            return 2
        elif char == "$" and ahead == "{":
            self._push("brace")
            return 2
        elif top == "double":
            if char == '"':
                self._pop()
        elif char == "$" and ahead == "'":
            self._push("ansi")
            return 2
        elif char == "'":
            self._push("single")
        elif char == '"':
            self._push("double")
        elif char == "#" and (prior == "" or prior.isspace() or prior in ";&|()"):
            self._push("comment")
        elif char == "<" and ahead == "<":
            self.unsure = "after a here-document (<<)"
        elif char == "(":
            self.depth[-1] += 1
        elif char == ")":
            if self.depth[-1] > 0:
                self.depth[-1] -= 1
            elif top == "arithmetic" and ahead == ")":
                self._pop()
                return 2
            elif len(self.stack) > 1:  # the end of a $(...)
                self._pop()
        return 1

    def _push(self, frame: str) -> None:
        self.stack.append(frame)
        self.depth.append(0)

    def _pop(self) -> None:
        self.stack.pop()
        self.depth.pop()
