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
otherwise it is the built-in trainer (:mod:`harness.study.variant`). ``[executor]`` and
``[search]`` are parsed here too, into :class:`~harness.study.executor.ExecutorSettings` and
:class:`~harness.study.search.SearchConfig`, so nothing downstream reads a raw table. Every
error names the file, the line when it can be located, the dotted key and the closest valid key.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from analysis.verdict import Direction
from harness.errors import SpecError, closest
from harness.schema import from_mapping
from harness.study.executor import ExecutorSettings, parse_executor
from harness.study.factorial import (
    FactorialDesign,
    cell_variants,
    check_variants,
    parse_factors,
)
from harness.study.search import SearchConfig, parse_search
from harness.study.seeds import default_seeds, seed_list
from harness.study.sweep import expand_sweep, swept_values
from harness.study.tables import (
    check_depth,
    deep_merge,
    format_key,
    parse_assignment,
    set_dotted,
    split_key,
)
from harness.study.variant import (
    NAME_PATTERN,
    VariantSpec,
    config_hash,
    jsonable,
    resolve_variant,
    validate_config,
)

# What a study file is read as, with the names from the modules it is built from.
__all__ = [
    "NAME_PATTERN",
    "Direction",
    "ExecutorSettings",
    "SearchConfig",
    "StudySpec",
    "VariantSpec",
    "WandbSettings",
    "apply_override",
    "config_hash",
    "deep_merge",
    "default_seeds",
    "load_study",
    "locate_key",
    "located_in",
    "parse_study",
    "read_study_file",
]

STUDY_KEYS = ("name", "description", "metric", "direction", "seeds", "baseline", "wandb_project")
TOP_LEVEL_KEYS = (
    "study",
    "base",
    "variants",
    "sweep",
    "factors",
    "phases",
    "wandb",
    "executor",
    "search",
)


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
        executor: where runs execute (``[executor]``); local when the file has no table.
        search: the ``[search]`` settings of ``harness tune``, when the file has them.
        factorial: the ``[factors]`` design, when the study has one (its cells are in
            ``variants``; see :mod:`harness.study.factorial`).
    """

    name: str
    description: str = ""
    metric: str = "val_loss"
    direction: Direction = Direction.MINIMIZE
    seeds: tuple[int, ...]
    baseline: str
    base: Mapping[str, Any]
    variants: tuple[VariantSpec, ...]
    wandb: WandbSettings = field(default_factory=WandbSettings)
    source: Path | None = None
    sweep: Mapping[str, Any] = field(default_factory=dict)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    search: SearchConfig | None = None
    factorial: FactorialDesign | None = None

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
        """The JSON-serializable form stored as ``study.json``; ``factorial`` only for a
        ``[factors]`` study (other studies keep the shape earlier versions wrote)."""
        data = {
            "name": self.name,
            "description": self.description,
            "metric": self.metric,
            "direction": self.direction,
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "variants": [v.name for v in self.variants],
            "base": jsonable(self.base),
            "variant_configs": {v.name: jsonable(v.config) for v in self.variants},
            "source": str(self.source) if self.source else None,
            "sweep": _sweep_points(self.sweep),
        }
        if self.factorial is not None:
            data["factorial"] = self.factorial.to_dict()
        return data


def _sweep_points(sweep: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    return swept_values(sweep) if sweep else None


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
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SpecError(f"cannot be read: {error.strerror or error}", file=path) from None
    text = decode_study_text(data, file=path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _toml_error_line(str(error))
        raise SpecError(f"not valid TOML: {error}", file=path, line=line) from None
    except RecursionError:  # [[[[...]]]] thousands deep
        raise SpecError("not valid TOML: nested too deeply", file=path) from None
    try:
        for assignment in overrides:
            apply_override(raw, assignment)
    except SpecError as error:
        raise error.located(file=path, line=None) from None
    try:
        check_depth(raw)
    except SpecError as error:
        raise error.located(file=path, line=None) from None
    if seeds is not None:
        raw.setdefault("study", {})["seeds"] = seeds if isinstance(seeds, int) else list(seeds)
    return raw, text


def decode_study_text(data: bytes, *, file: Path | None = None) -> str:
    """A study file's bytes as text (TOML is UTF-8).

    Raises:
        SpecError: the bytes are not UTF-8, naming the line and the offending byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex()
        raise SpecError(
            f"not UTF-8 text (byte 0x{byte} at offset {error.start}): save the file as UTF-8",
            file=file,
            line=line,
        ) from None


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
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(
                "unknown top-level table", key=key, suggestion=closest(key, TOP_LEVEL_KEYS)
            )
    study = _table(raw, "study", required=True)
    for key in study:
        if key not in STUDY_KEYS:
            raise SpecError(
                "unknown key",
                key=f"study.{key}",
                suggestion=_prefixed("study", closest(key, STUDY_KEYS)),
            )
    name = _string(study, "name", required=True)
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):  # it names a directory
        raise SpecError("must use only letters, digits, '_', '.' and '-'", key="study.name")
    metric = _string(study, "metric", default="val_loss")
    direction = parse_direction(_string(study, "direction", default="minimize"), "study.direction")
    seeds = seed_list(study.get("seeds", 3), "study.seeds")

    base = _table(raw, "base")
    variant_tables = _table(raw, "variants", required="sweep" not in raw and "factors" not in raw)
    sweep = _table(raw, "sweep")
    swept_variants = expand_sweep(sweep) if sweep else {}
    for swept_name, swept in swept_variants.items():
        if swept_name in variant_tables:
            raise SpecError(
                f"the sweep makes a variant '{swept_name}' that [variants] already has",
                key=f"variants.{swept_name}",
            )
        variant_tables[swept_name] = swept
    factorial = _factorial(raw, base, variant_tables) if "factors" in raw else None
    if not variant_tables:
        raise SpecError("a study needs at least one variant", key="variants")
    # When every variant brings its own command, the base only holds what they share (env,
    # params ...): it is checked through each resolved variant, not as a built-in config.
    own_commands = all(isinstance(v, Mapping) and "command" in v for v in variant_tables.values())
    base_kind = (
        None if own_commands and "command" not in base else validate_config(base, where="base")
    )
    variants: list[VariantSpec] = []
    for variant_name, overrides in variant_tables.items():
        variant = resolve_variant(variant_name, base, overrides)
        if variant.kind == "builtin" and base_kind == "command":
            raise SpecError(
                "the base is a command; a variant cannot drop it", key=f"variants.{variant_name}"
            )
        variants.append(variant)

    names = [v.name for v in variants]
    baseline = _string(study, "baseline", default=factorial.baseline if factorial else names[0])
    if baseline not in names:
        raise SpecError(
            f"baseline '{baseline}' is not a variant (variants: {', '.join(names)})",
            key="study.baseline",
            suggestion=closest(baseline, names),
        )
    wandb = _wandb(raw, default_project=study.get("wandb_project"))
    executor = parse_executor(raw["executor"]) if "executor" in raw else ExecutorSettings()
    search = None
    if "search" in raw:
        search = parse_search(
            raw["search"],
            study_name=name,
            seeds=seeds,
            baseline=baseline,
            base=base,
            variants=tuple(variants),
        )
    return StudySpec(
        name=name,
        description=_string(study, "description", default=""),
        metric=metric,
        direction=direction,
        seeds=seeds,
        baseline=baseline,
        base=base,
        variants=tuple(variants),
        wandb=wandb,
        source=source,
        sweep=sweep,
        executor=executor,
        search=search,
        factorial=factorial,
    )


def _factorial(
    raw: Mapping[str, Any], base: Mapping[str, Any], variant_tables: dict[str, Any]
) -> FactorialDesign:
    """Parse ``[factors]`` and add its cells to ``variant_tables`` (in place)."""
    if "sweep" in raw:
        raise SpecError("a study has [sweep] or [factors], not both", key="factors")
    validate_config(base, where="base")  # a broken base is named as such, not as a factor
    design = parse_factors(_table(raw, "factors"), base=base)
    check_variants(design, variant_tables)
    for name, overrides in cell_variants(design, base).items():
        if name in variant_tables:
            raise SpecError(
                f"the factorial makes a variant '{name}' that [variants] already has",
                key=f"variants.{name}",
            )
        variant_tables[name] = overrides
    return design


def _wandb(raw: Mapping[str, Any], *, default_project: Any) -> WandbSettings:
    table = dict(_table(raw, "wandb"))
    if default_project is not None:
        table.setdefault("project", default_project)
    return from_mapping(WandbSettings, table, where="wandb")


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``--set dotted.key=value`` to the raw study mapping, in place.

    The value is read as a TOML value (``50``, ``3e-4``, ``true``, ``"x"``, ``[1, 2]``);
    anything that is not valid TOML is taken as a plain string.
    """
    key, value = parse_assignment(assignment)
    table, *rest = split_key(key)
    if table not in TOP_LEVEL_KEYS:
        raise SpecError(
            "--set keys start with a table such as 'base.' or 'study.'",
            key=key,
            suggestion=_prefixed(closest(table, TOP_LEVEL_KEYS), format_key(rest)),
        )
    set_dotted(raw, key, value)


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
    try:
        return split_key(key)
    except SpecError:  # not a valid key: the nearest parts still locate the line
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


def parse_direction(value: Any, key: str) -> Direction:
    """``value`` as a Direction.

    Args:
        value: what the study file (or a stored study) says.
        key: the dotted key it came from, for the error.

    Raises:
        SpecError: anything but "minimize" or "maximize", with the closest of the two.
    """
    try:
        return Direction(value)
    except ValueError:
        raise SpecError(
            f"must be 'minimize' or 'maximize', got {value!r}",
            key=key,
            suggestion=closest(str(value), tuple(Direction)),
        ) from None


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


def _prefixed(prefix: str | None, key: str | None) -> str | None:
    if prefix is None or key is None:
        return None
    return f"{prefix}.{key}" if key else prefix
