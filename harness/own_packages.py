"""harness's own top-level packages come first: a researcher's folders never shadow them.

harness ships the plain top-level packages ``models``, ``analysis`` and ``kernels``, names
researchers use for their own code too (and Hugging Face's ``kernels`` is a dependency of
transformers 5). ``python -m harness ...``, ``python -m harness.worker ...`` and the warm
zygote (``python -c ...``) start with the current directory first on ``sys.path``; run from a
project with its own ``models/`` or ``kernels/`` folder, that folder would replace the built-in
model's package — with an editable install only half of it, which fails later and obscurely.

:func:`keep_own_packages_first` takes the current directory off ``sys.path`` in those entry
points when it holds such a folder, so harness imports its own; and where another installed
package of such a name comes first on the path (Hugging Face's ``kernels`` in site-packages
comes before an editable install's finder), it puts harness's root first. It does nothing when
harness is run from its own checkout, and nothing to a program that merely imports harness as a
library. (A non-editable install beside transformers 5 cannot be helped here: both write a
``kernels`` folder into site-packages.)
``harness coordcheck --model`` puts the current directory back to import the researcher's
module (:mod:`harness.coordcheck.user_model`).
"""

from __future__ import annotations

import importlib.machinery
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
    if any(_found_elsewhere(name) for name in OWN_PACKAGES) and str(ROOT) not in sys.path[:1]:
        sys.path.insert(0, str(ROOT))  # an editable install's packages, before site-packages'


def _found_elsewhere(name: str) -> bool:
    """Whether ``import name`` would find another package than harness's own (say Hugging
    Face's ``kernels`` in site-packages, which an editable install's finder comes after)."""
    if not _shadows(ROOT, name):
        return False
    spec = importlib.machinery.PathFinder.find_spec(name, sys.path)
    origin = (
        None
        if spec is None
        else (spec.origin or next(iter(spec.submodule_search_locations or ()), None))
    )
    return origin is not None and not Path(origin).resolve().is_relative_to(ROOT / name)


def _shadows(directory: Path, name: str) -> bool:
    return (directory / name).is_dir() or (directory / f"{name}.py").is_file()


def _resolved(entry: str) -> Path | None:
    try:
        return Path(entry or os.curdir).resolve()
    except (OSError, RuntimeError):
        return None
