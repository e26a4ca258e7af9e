"""Turning pydantic's validation errors into one line that names the field.

pydantic reports a location tuple and an error type; a researcher wants
``recipe.yaml: train.lr: must be > 0`` or ``…: unknown key 'epoch'; did you mean
'epochs'?``. This module walks the schema along the location to find which keys
were valid there, so the suggestion is always one the schema accepts.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import RecipeError
from harness.registry import did_you_mean


def _unwrap(annotation: Any) -> Any:
    """Strip Optional[...] / X | None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema class found by following ``loc`` from ``root`` (None if not a model)."""
    current: Any = root
    i = 0
    while i < len(loc):
        part = loc[i]
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            i += 1
            continue
        origin = typing.get_origin(current)
        if origin in (dict, list, tuple):
            args = typing.get_args(current)
            current = args[-1] if args else Any
            i += 1
            continue
        return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic inserts validator/union tags like 'function-after[...]' into locations.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _expected_values(ctx: dict[str, Any] | None) -> list[str]:
    expected = (ctx or {}).get("expected", "")
    return re.findall(r"'([^']*)'", str(expected))


def describe_error(root: type[BaseModel], err: dict[str, Any]) -> tuple[str, str]:
    """(dotted field path, message) for one pydantic error."""
    loc = _clean_loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    value = err.get("input")
    path = ".".join(str(p) for p in loc)
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        parent = model_at(root, loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        hint = did_you_mean(key, valid)
        listing = f" (valid keys: {', '.join(valid)})" if valid and not hint else ""
        return path, f"unknown key '{key}'{hint}{listing}"
    if kind == "missing":
        return path, "required field is missing"
    if kind == "literal_error":
        choices = _expected_values(err.get("ctx"))
        return path, f"'{value}' is not one of {', '.join(choices)}{did_you_mean(str(value), choices)}"
    message = str(err.get("msg", "invalid value"))
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    if kind in ("model_type", "dict_type") and not isinstance(value, dict):
        message = f"expected a mapping, got {type(value).__name__} {value!r}"
    else:
        message = f"{message[:1].lower()}{message[1:]}"
        if not isinstance(value, (dict, list)) and kind not in ("value_error", "assertion_error"):
            message += f", got {value!r}"
    return path, message


def recipe_error(root: type[BaseModel], exc: ValidationError, file: str | None) -> RecipeError:
    """The first problem as a one-line RecipeError (with a count of the rest)."""
    errors = exc.errors()
    path, message = describe_error(root, errors[0])
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return RecipeError(message, file=file, field=path or None)
