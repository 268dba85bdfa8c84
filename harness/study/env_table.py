"""A command's ``env`` table: literal values, which are configuration, and ``${VAR}``
references, which is how a secret reaches a command.

A literal value (``CUBLAS_WORKSPACE_CONFIG = ":4096:8"``, a factor's switch) is part of the
run's config like a ``params`` value: it is recorded in ``study.json``, ``config.json``, the
wandb config and exports, and changing it changes the config hash. A reference
(``HF_TOKEN = "${HF_TOKEN}"``) is recorded and hashed as its text: its value is read from the
worker's environment when the command is launched, passed to the command and written nowhere,
so a rotated token leaves finished runs current. A literal value under a name that says it is a
secret (``*_TOKEN``, ``*_API_KEY``, ``*PASSWORD*``...) is refused at the door, with the
reference form to write instead: it would be copied into every file above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from harness.errors import SpecError

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE
)


class UnsetReference(ValueError):
    """An ``env`` entry refers to a variable the launching environment does not set."""


def check_env_value(name: str, value: str, *, key: str) -> None:
    """Refuse a secret written literally into a study file.

    Args:
        name: the variable's name.
        value: its value in the study file.
        key: the dotted key to name in the message (``base.env.HF_TOKEN``).

    Raises:
        SpecError: ``name`` says it holds a secret and ``value`` is a non-empty literal.
    """
    if value and SECRET_NAME.search(name) and not REFERENCE.search(value):
        raise SpecError(
            f"looks like a secret written into the study file, which harness would copy into "
            f'every run\'s config and export: write {name} = "${{{name}}}" and set {name} in '
            f"the environment you run harness in (the value is read at launch, never stored)",
            key=key,
        )


def resolve_env(table: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The values a command gets: each ``${VAR}`` in a value replaced by ``environ[VAR]``.

    Args:
        table: the run's ``env`` table, as recorded (references unresolved).
        environ: the environment the command is launched from (the worker's).

    Returns:
        Every entry with its references filled in; literal values as they are.

    Raises:
        UnsetReference: a referenced variable is not set, naming the entry and the variable.
    """

    resolved = {}
    for name, value in table.items():
        for variable in REFERENCE.findall(value):
            if variable not in environ:
                raise UnsetReference(
                    f"env.{name} refers to ${{{variable}}}, but {variable} is not set in the "
                    f"environment harness runs the command from (export {variable}=... there)"
                )
        resolved[name] = REFERENCE.sub(lambda match: environ[match.group(1)], value)
    return resolved
