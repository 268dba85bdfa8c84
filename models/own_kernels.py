"""The built-in model's ``kernels`` package: harness's own, even where another package of that
name comes first on ``sys.path``.

Hugging Face's ``kernels`` is a dependency of transformers 5; installed beside an editable
harness it comes first (site-packages is searched before an editable install's finder), and
``import kernels`` would give the built-in model the wrong package. :func:`own_kernels` imports
harness's from its folder beside ``models/`` instead, under the name ``kernels`` (so that its
own ``kernels.*`` imports resolve to it). A process that imports the built-in model then holds
harness's ``kernels``; one that never does (``harness coordcheck --model`` on a transformers
model) leaves the name to Hugging Face's.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

OWN_KERNELS = Path(__file__).resolve().parent.parent / "kernels"


def own_kernels() -> ModuleType:
    """harness's ``kernels`` package, imported from :data:`OWN_KERNELS` if need be.

    Raises:
        ImportError: another package named ``kernels`` is already imported in this process.
    """
    loaded = sys.modules.get("kernels")
    if loaded is None:
        spec = importlib.util.find_spec("kernels")
        if spec is not None and _is_own(spec.submodule_search_locations):
            return importlib.import_module("kernels")
        return _import_from_folder()  # another package of the name comes first, or none
    if _is_own(getattr(loaded, "__path__", None)):
        return loaded
    raise ImportError(
        f"another package named 'kernels' ({getattr(loaded, '__file__', loaded)}) is already "
        "imported in this process; the built-in model needs harness's own (kernels/)"
    )


def _is_own(locations: Iterable[str] | None) -> bool:
    """Whether a package found at ``locations`` (its ``__path__``) is harness's."""
    return any(Path(place).resolve() == OWN_KERNELS for place in locations or ())


def _import_from_folder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kernels", OWN_KERNELS / "__init__.py", submodule_search_locations=[str(OWN_KERNELS)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernels"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["kernels"]
        raise
    return module
