"""harness's own top-level packages come first: a researcher's folders never shadow them.

harness ships the plain top-level packages ``models``, ``analysis`` and ``kernels``, names
researchers use for their own code too. ``python -m harness ...``, ``python -m harness.worker
...`` and the warm zygote (``python -c ...``) start with the current directory first on
``sys.path``; run from a project with its own ``models/`` or ``kernels/`` folder, that folder
would replace the built-in model's package — with an editable install only half of it, which
fails later and obscurely.

:func:`keep_own_packages_first` takes the current directory off ``sys.path`` in those entry
points when it holds such a folder, so harness imports its own. It does nothing when harness is
run from its own checkout, and nothing to a program that merely imports harness as a library.
``harness coordcheck --model`` puts the current directory back to import the researcher's
module (:mod:`harness.coordcheck.user_model`). Another *installed* package named ``kernels``
(Hugging Face's, a dependency of transformers 5) is the built-in model's business:
:mod:`models.own_kernels`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OWN_PACKAGES = ("models", "analysis", "kernels")
ROOT = Path(__file__).resolve().parent.parent  # where harness and its sibling packages live


def keep_own_packages_first() -> None:
    """Drop the current directory from ``sys.path`` when it holds a package named like one of
    :data:`OWN_PACKAGES` and is not harness's own root (call before those are imported)."""
    try:
        cwd: Path | None = Path.cwd().resolve()
    except OSError:  # the current directory was deleted: nothing of it can shadow anything
        cwd = None
    if cwd is not None and cwd != ROOT and any(_shadows(cwd, name) for name in OWN_PACKAGES):
        sys.path[:] = [entry for entry in sys.path if _resolved(entry) != cwd]


def _shadows(directory: Path, name: str) -> bool:
    return (directory / name).is_dir() or (directory / f"{name}.py").is_file()


def _resolved(entry: str) -> Path | None:
    try:
        return Path(entry or os.curdir).resolve()
    except (OSError, RuntimeError):
        return None
