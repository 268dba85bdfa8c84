"""Turn plain mappings (parsed TOML, JSON) into frozen config dataclasses, strictly.

Every config dataclass in the project (model, data, training, search ...) is built through
:func:`from_mapping`, so an unknown key, a wrong type or a bad value fails the same way
everywhere: a :class:`~harness.errors.SpecError` naming the dotted key and the closest valid one.
Validation of *values* (ranges, enums) lives in each dataclass's ``__post_init__``, raising a
``ValueError`` that names the field (:class:`FieldError` through :func:`require` in harness,
``models.config.ModelConfigError`` in models, which cannot import harness); it is converted here
into a SpecError naming the dotted key.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from harness.errors import SpecError, closest

T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively.

    Args:
        cls: a dataclass type; nested dataclass fields are built from nested mappings.
        data: the values; missing keys take the field defaults.
        where: the dotted path of ``data`` inside the study, used in error messages.

    Returns:
        An instance of ``cls``.

    Raises:
        SpecError: unknown key (with the closest valid key), wrong type, or a value that
            the dataclass's ``__post_init__`` rejects.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a table, got {type(data).__name__}", key=where or None)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise SpecError(
                f"unknown key for {cls.__name__}", key=path, suggestion=_suggest(where, key, fields)
            )
        kwargs[key] = _coerce(hints[key], value, path)
    try:
        return cls(**kwargs)
    except ValueError as error:
        key, message = _field_and_reason(error)
        if key in fields and message:
            path = f"{where}.{key}" if where else key
            raise SpecError(message, key=path) from None
        raise SpecError(str(error), key=where or None) from None
    except TypeError as error:  # a required field without default
        raise SpecError(str(error), key=where or None) from None


def _field_and_reason(error: ValueError) -> tuple[str, str]:
    """The field a ``__post_init__`` error names and what is wrong with it ("" if none).

    A :class:`FieldError` or ``models.config.ModelConfigError`` carries both as ``field`` and
    ``reason`` (read by name: models cannot import this module's class); any other ValueError
    may name its field in the form ``"field: reason"``.
    """
    field, reason = getattr(error, "field", None), getattr(error, "reason", None)
    if isinstance(field, str) and isinstance(reason, str):
        return field, reason
    field, _, reason = str(error).partition(": ")
    return field, reason


def _suggest(where: str, key: str, fields: Mapping[str, Any]) -> str | None:
    match = closest(key, fields)
    if match is None:
        return None
    return f"{where}.{match}" if where else match


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            suggestion = closest(str(value), [str(a) for a in allowed])
            raise SpecError(
                f"must be one of {choices}, got {value!r}", key=path, suggestion=suggestion
            )
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, path)
            except SpecError as error:
                errors.append(error.message)
        raise SpecError("; ".join(errors), key=path)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where=path)  # type: ignore[arg-type]
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise SpecError(f"expected a list, got {type(value).__name__} {value!r}", key=path)
        args = get_args(hint)
        item = args[0] if args else Any
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise SpecError(f"expected a table, got {type(value).__name__}", key=path)
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"expected a number, got {type(value).__name__} {value!r}", key=path)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
        if not math.isfinite(number):  # TOML has inf and nan; no config setting means them
            raise SpecError(f"must be a finite number, got {value!r:.40}", key=path)
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"expected an integer, got {type(value).__name__} {value!r}", key=path)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(f"expected true or false, got {value!r}", key=path)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(f"expected a string, got {type(value).__name__} {value!r}", key=path)
        return value
    return value


def to_mapping(instance: Any) -> dict[str, Any]:
    """The JSON-serializable dict of a (nested) config dataclass; tuples become lists."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(instance)


class FieldError(ValueError):
    """A config dataclass's field holds a bad value (raised by :func:`require`).

    ``str(error)`` reads ``"field: reason"``; :func:`from_mapping` turns it into a SpecError
    naming the full dotted key.

    Attributes:
        field: the offending field.
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def require(condition: bool, field: str, message: str) -> None:
    """For ``__post_init__``: raise :class:`FieldError` for ``field`` unless ``condition``.

    Args:
        condition: what must hold.
        field: the field it checks.
        message: what is wrong when it does not hold.
    """
    if not condition:
        raise FieldError(field, message)
