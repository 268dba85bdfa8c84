"""Study files: parsed once at the door into frozen dataclasses.

A study file has the shape::

    [study]
    name = "bos_protection"      # letters, digits, _ . -
    metric = "val_loss"
    direction = "minimize"       # or "maximize"
    seeds = 3                    # a count, expanded to [0, 1, 2], or an explicit list
    baseline = "selective"

    [base]                       # config shared by every variant
    ...
    [variants.selective]         # an empty table is the base unchanged
    [variants.no_bos_protection]
    model.protect_bos = false    # nested keys deep-merge onto [base]

A variant (or the base) whose resolved config has a ``command`` key is an external command;
otherwise it is the built-in trainer, whose config is validated against
``harness.training.config.RunConfig``. Every error names the file, the line when it can be
located, the dotted key and the closest valid key.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import SpecError, closest
from harness.executors.config import validate_executor_table

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
STUDY_KEYS = ("name", "description", "metric", "direction", "seeds", "baseline", "wandb_project")
TOP_LEVEL_KEYS = ("study", "base", "variants", "sweep", "phases", "wandb")
COMMAND_KEYS = ("command", "shell", "env", "params", "cwd")
BUILTIN_TABLES = ("model", "data", "train")


@dataclass(frozen=True, kw_only=True)
class WandbSettings:
    """Weights & Biases logging for a study.

    Attributes:
        enabled: log one wandb run per harness run.
        project: the wandb project; defaults to the study name.
        entity: the wandb entity (team), when not the default.
        mode: "auto" (online when an API key is configured, else offline), "online",
            "offline" or "disabled". ``WANDB_MODE`` in the environment wins over this.
    """

    enabled: bool = True
    project: str | None = None
    entity: str | None = None
    mode: Literal["auto", "online", "offline", "disabled"] = "auto"


@dataclass(frozen=True, kw_only=True)
class VariantSpec:
    """One variant: its own overrides and the config resolved from them.

    Attributes:
        name: the variant name (also a directory name).
        overrides: the variant's table as written in the study file.
        config: ``[base]`` deep-merged with ``overrides``: what a run of this variant uses.
        kind: "builtin" for the built-in trainer, "command" for an external command.
    """

    name: str
    overrides: Mapping[str, Any]
    config: Mapping[str, Any]
    kind: Literal["builtin", "command"]

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


@dataclass(frozen=True, kw_only=True)
class StudySpec:
    """A whole study, validated.

    Attributes:
        name: the study name; results go to ``<runs root>/<name>/``.
        description: free text.
        metric: the primary metric (``harness compare`` uses it by default).
        direction: whether lower ("minimize") or higher ("maximize") is better.
        seeds: the seeds every variant runs with (paired design).
        baseline: the variant others are compared with.
        base: the shared config table.
        variants: the variants, in file order.
        wandb: wandb settings.
        source: the study file, when read from one.
        sweep: the ``[sweep]`` table, when the study has one (its points are in ``variants``).
        extra: top-level tables owned by other features (``search``, ``executor`` ...), raw.
    """

    name: str
    description: str = ""
    metric: str = "val_loss"
    direction: Literal["minimize", "maximize"] = "minimize"
    seeds: tuple[int, ...]
    baseline: str
    base: Mapping[str, Any]
    variants: tuple[VariantSpec, ...]
    wandb: WandbSettings = field(default_factory=WandbSettings)
    source: Path | None = None
    sweep: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def variant(self, name: str) -> VariantSpec:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise SpecError(
            f"no variant named '{name}'",
            file=self.source,
            suggestion=closest(name, [v.name for v in self.variants]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable form stored as ``study.json``."""
        return {
            "name": self.name,
            "description": self.description,
            "metric": self.metric,
            "direction": self.direction,
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "variants": [v.name for v in self.variants],
            "base": _jsonable(self.base),
            "variant_configs": {v.name: _jsonable(v.config) for v in self.variants},
            "source": str(self.source) if self.source else None,
            "sweep": _sweep_points(self.sweep),
        }


# Extra top-level tables, registered by the features that own them (search, sweep, phases,
# executor ...). Maps table name -> validator(raw_table, spec_without_extra) -> None.
EXTRA_TABLES: dict[str, Any] = {}
EXTRA_TABLES["executor"] = validate_executor_table  # [executor]: where runs execute


def _validate_search(table: Any, spec: StudySpec) -> None:
    from harness.tune.config import validate_search_table  # imports no optuna

    validate_search_table(table, spec)


EXTRA_TABLES["search"] = _validate_search


def _sweep_points(sweep: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    if not sweep:
        return None
    from harness.study.sweep import swept_values

    return swept_values(sweep)


def default_seeds(count: int) -> tuple[int, ...]:
    """The documented expansion of ``seeds = N``: the seeds 0, 1, ..., N-1.

    Growing N keeps the earlier seeds, so ``--seeds 5`` on a 3-seed study adds seeds 3 and 4.
    """
    return tuple(range(count))


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a resolved config (canonical JSON, sorted keys)."""
    canonical = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_study(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    seeds: int | Sequence[int] | None = None,
) -> StudySpec:
    """Read, override and validate a study file.

    Args:
        path: the TOML study file.
        overrides: ``--set`` assignments such as ``base.train.steps=50``.
        seeds: replaces ``study.seeds`` (a count or a list), as ``--seeds`` does.

    Raises:
        SpecError: a missing file, bad TOML, or any invalid key or value.
    """
    path = Path(path)
    raw, text = read_study_file(path, overrides=overrides, seeds=seeds)
    if "phases" in raw:
        raise SpecError(
            "this is a phased study: run it with 'harness study', which runs its phases in order",
            file=path,
            key="phases",
        )
    with located_in(path, text):
        return parse_study(raw, source=path)


def read_study_file(
    path: Path,
    *,
    overrides: Sequence[str] = (),
    seeds: int | Sequence[int] | None = None,
) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a study file with ``--set`` and ``--seeds`` applied, and its text."""
    if not path.is_file():
        raise SpecError("study file not found", file=path)
    text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _toml_error_line(str(error))
        raise SpecError(f"not valid TOML: {error}", file=path, line=line) from None
    try:
        for assignment in overrides:
            apply_override(raw, assignment)
    except SpecError as error:
        raise error.located(file=path, line=None) from None
    if seeds is not None:
        raw.setdefault("study", {})["seeds"] = seeds if isinstance(seeds, int) else list(seeds)
    return raw, text


@contextlib.contextmanager
def located_in(path: Path, text: str) -> Iterator[None]:
    """Fill in the file and line of any SpecError raised inside."""
    try:
        yield
    except SpecError as error:
        line = locate_key(text, error.key) if error.key else None
        raise error.located(file=path, line=line) from None


def parse_study(raw: Mapping[str, Any], *, source: Path | None = None) -> StudySpec:
    """Validate a parsed study mapping; see :func:`load_study`."""
    for key in raw:
        if key not in TOP_LEVEL_KEYS and key not in EXTRA_TABLES:
            known = (*TOP_LEVEL_KEYS, *EXTRA_TABLES)
            raise SpecError("unknown top-level table", key=key, suggestion=closest(key, known))
    study = _table(raw, "study", required=True)
    for key in study:
        if key not in STUDY_KEYS:
            raise SpecError(
                "unknown key",
                key=f"study.{key}",
                suggestion=_prefixed("study", closest(key, STUDY_KEYS)),
            )
    name = _string(study, "name", required=True)
    if not NAME_PATTERN.match(name) or name in (".", ".."):  # it names a directory
        raise SpecError("must use only letters, digits, '_', '.' and '-'", key="study.name")
    metric = _string(study, "metric", default="val_loss")
    direction = _string(study, "direction", default="minimize")
    if direction not in ("minimize", "maximize"):
        raise SpecError(
            f"must be 'minimize' or 'maximize', got {direction!r}",
            key="study.direction",
            suggestion=closest(direction, ("minimize", "maximize")),
        )
    seed_list = _seeds(study.get("seeds", 3))

    base = _table(raw, "base")
    variant_tables = _table(raw, "variants", required="sweep" not in raw)
    sweep = _table(raw, "sweep")
    if sweep:
        from harness.study.sweep import expand_sweep

        for swept_name, swept in expand_sweep(sweep).items():
            if swept_name in variant_tables:
                raise SpecError(
                    f"the sweep makes a variant '{swept_name}' that [variants] already has",
                    key=f"variants.{swept_name}",
                )
            variant_tables[swept_name] = swept
    if not variant_tables:
        raise SpecError("a study needs at least one variant", key="variants")
    # When every variant brings its own command, the base only holds what they share (env,
    # params ...): it is checked through each resolved variant, not as a built-in config.
    own_commands = all(isinstance(v, Mapping) and "command" in v for v in variant_tables.values())
    base_kind = (
        None if own_commands and "command" not in base else _validate_config(base, where="base")
    )
    variants = []
    for variant_name, overrides in variant_tables.items():
        where = f"variants.{variant_name}"
        if not NAME_PATTERN.match(variant_name) or variant_name in (".", ".."):
            raise SpecError(
                "variant names may use only letters, digits, '_', '.' and '-'", key=where
            )
        if not isinstance(overrides, Mapping):
            raise SpecError("a variant must be a table", key=where)
        if "command" in overrides:  # replaces the base's built-in trainer, not its own keys
            trainer_free = {k: v for k, v in base.items() if k not in BUILTIN_TABLES}
            resolved = deep_merge(trainer_free, overrides)
        else:
            resolved = deep_merge(base, overrides)
        kind = _validate_config(resolved, where=where)
        if kind == "builtin" and base_kind == "command":
            raise SpecError("the base is a command; a variant cannot drop it", key=where)
        variants.append(
            VariantSpec(name=variant_name, overrides=overrides, config=resolved, kind=kind)
        )

    names = [v.name for v in variants]
    baseline = _string(study, "baseline", default=names[0])
    if baseline not in names:
        raise SpecError(
            f"baseline '{baseline}' is not a variant (variants: {', '.join(names)})",
            key="study.baseline",
            suggestion=closest(baseline, names),
        )
    wandb = _wandb(raw, default_project=study.get("wandb_project"))
    extra = {key: raw[key] for key in raw if key in EXTRA_TABLES}
    spec = StudySpec(
        name=name,
        description=_string(study, "description", default=""),
        metric=metric,
        direction=direction,  # type: ignore[arg-type]
        seeds=seed_list,
        baseline=baseline,
        base=base,
        variants=tuple(variants),
        wandb=wandb,
        source=source,
        sweep=sweep,
        extra=extra,
    )
    for key, validate in EXTRA_TABLES.items():
        if key in extra:
            validate(extra[key], spec)
    return spec


def _validate_config(config: Mapping[str, Any], *, where: str) -> Literal["builtin", "command"]:
    """Check a (base or resolved variant) config and say which kind of run it describes."""
    if "command" in config:
        for key in config:
            if key not in COMMAND_KEYS:
                raise SpecError(
                    "a command run takes only 'command', 'shell', 'env', 'params' and 'cwd'",
                    key=f"{where}.{key}",
                    suggestion=_prefixed(where, closest(key, COMMAND_KEYS)),
                )
        if not isinstance(config["command"], str) or not config["command"].strip():
            raise SpecError("must be a non-empty string", key=f"{where}.command")
        if not isinstance(config.get("cwd", ""), str):
            raise SpecError("must be a directory path", key=f"{where}.cwd")
        if not isinstance(config.get("shell", False), bool):
            raise SpecError("expected true or false", key=f"{where}.shell")
        env = config.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
            raise SpecError("must be a table of strings", key=f"{where}.env")
        return "command"
    from harness.schema import from_mapping
    from harness.training.config import RunConfig

    from_mapping(RunConfig, config, where=where)
    return "builtin"


def _wandb(raw: Mapping[str, Any], *, default_project: Any) -> WandbSettings:
    from harness.schema import from_mapping

    table = dict(_table(raw, "wandb"))
    if default_project is not None:
        table.setdefault("project", default_project)
    return from_mapping(WandbSettings, table, where="wandb")


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: nested tables merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``--set dotted.key=value`` to the raw study mapping, in place.

    The value is read as a TOML value (``50``, ``3e-4``, ``true``, ``"x"``, ``[1, 2]``);
    anything that is not valid TOML is taken as a plain string.
    """
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError(f"--set takes KEY=VALUE, got {assignment!r}")
    parts = key.split(".")
    if parts[0] not in (*TOP_LEVEL_KEYS, *EXTRA_TABLES):
        raise SpecError(
            "--set keys start with a table such as 'base.' or 'study.'",
            key=key,
            suggestion=_prefixed(closest(parts[0], TOP_LEVEL_KEYS), ".".join(parts[1:])),
        )
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SpecError("cannot set a key inside a non-table value", key=key)
        node = child
    node[parts[-1]] = value


def locate_key(text: str, dotted: str) -> int | None:
    """The 1-based line where ``dotted`` (or its nearest enclosing table) is written, if found.

    tomllib keeps no positions, so this scans table headers and ``key =`` lines.
    """
    best: tuple[int, int] | None = None  # (matched depth, line)
    target = dotted.split(".")
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", stripped)
        if header:
            table = _split_key(header.group(1))
            path = table
        else:
            assignment = re.match(r"^([A-Za-z0-9_.\-\"' ]+?)\s*=", stripped)
            if not assignment:
                continue
            path = table + _split_key(assignment.group(1))
        depth = _common_prefix(path, target)
        # a line on the way to the key ([variants.a] for variants.a.model.x), or one that
        # writes the key as part of a longer dotted key or header ([variant.a] for variant)
        on_path = depth == len(path) or depth == len(target)
        if on_path and (best is None or depth > best[0]):
            best = (depth, number)
    return best[1] if best else None


def _split_key(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _table(raw: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    if key not in raw:
        if required:
            raise SpecError(f"missing the [{key}] table", key=key)
        return {}
    value = raw[key]
    if not isinstance(value, Mapping):
        raise SpecError("must be a table", key=key)
    return dict(value)


def _string(
    table: Mapping[str, Any], key: str, *, required: bool = False, default: str = ""
) -> str:
    if key not in table:
        if required:
            raise SpecError("is required", key=f"study.{key}")
        return default
    value = table[key]
    if not isinstance(value, str):
        raise SpecError(
            f"expected a string, got {type(value).__name__} {value!r}", key=f"study.{key}"
        )
    return value


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise SpecError("expected a count or a list of integers", key="study.seeds")
    if isinstance(value, int):
        if value < 1:
            raise SpecError("needs at least 1 seed", key="study.seeds")
        return default_seeds(value)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if len(set(value)) != len(value):
            raise SpecError("seeds must be distinct", key="study.seeds")
        return tuple(value)
    raise SpecError(
        f"expected a count or a non-empty list of non-negative integers, got {value!r}",
        key="study.seeds",
    )


def _prefixed(prefix: str | None, key: str | None) -> str | None:
    if prefix is None or key is None:
        return None
    return f"{prefix}.{key}" if key else prefix


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):  # TOML dates and times
        return value.isoformat()
    return value
