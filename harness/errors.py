"""User-facing errors: each one is printed as a message, never a traceback, and exits 2."""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable
from pathlib import Path


class UserError(Exception):
    """Bad input from the user. The CLI prints ``str(error)`` and exits with code 2."""

    exit_code = 2


class SpecError(UserError):
    """A study file (or an override) that cannot be used.

    Args:
        message: what is wrong.
        file: the study file, when there is one.
        line: the 1-based line of the offending key, when it can be located.
        key: the dotted key path, e.g. ``base.model.protect_bos``.
        suggestion: the closest valid key, for typos.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.key = key
        self.suggestion = suggestion
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<study>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.key:
            text += f"key '{self.key}': "
        text += self.message
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text

    def located(self, *, file: str | Path | None, line: int | None) -> SpecError:
        """The same error, with a file and line filled in where they were missing."""
        return SpecError(
            self.message,
            file=self.file or file,
            line=self.line if self.line is not None else line,
            key=self.key,
            suggestion=self.suggestion,
        )


class StoreWarning(UserWarning):
    """A store file that cannot be read: the run it belongs to is left out (or counts as
    unfinished), and the message names the file, what is wrong and how to repair or retry it.
    The CLI prints each one once, as ``harness <command>: warning: ...``."""


def os_error_message(error: OSError, *, elsewhere: str = "") -> str:
    """One line for a failed file operation: the path, what went wrong and, for a full or
    read-only disk, what to do.

    Args:
        error: the error, with its ``filename`` when the operation named one.
        elsewhere: the option that writes elsewhere (``--output-dir``), for the hint.

    Returns:
        ``"runs/s/report.html: No space left on device (ENOSPC); free some space, or write
        elsewhere"``.
    """
    code = errno.errorcode.get(error.errno or 0)
    reason = error.strerror or str(error)
    if code:
        reason += f" ({code})"
    paths = [str(name) for name in (error.filename, error.filename2) if name is not None]
    text = f"{' -> '.join(paths)}: {reason}" if paths else reason
    write_elsewhere = f"write elsewhere with {elsewhere}" if elsewhere else "write elsewhere"
    hints = {
        errno.ENOSPC: f"free some space, or {write_elsewhere}",
        errno.EDQUOT: f"free some space, or {write_elsewhere}",
        errno.EROFS: f"{write_elsewhere}, or remount it read-write",
    }
    hint = hints.get(error.errno or 0)
    return f"{text}; {hint}" if hint else text


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


class RunDiverged(Exception):
    """A training run whose loss became NaN or infinite; recorded as ``diverged``, not a crash.

    Args:
        step: the step at which the non-finite value appeared.
        value: the offending value (nan or ±inf).
        metric: which quantity was non-finite.
    """

    def __init__(self, *, step: int, value: float, metric: str = "train_loss") -> None:
        self.step = step
        self.value = value
        self.metric = metric
        super().__init__(f"{metric} became {value} at step {step}")
