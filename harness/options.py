"""A component's options are its constructor's keyword parameters.

Every registered component with options is a class or factory whose keyword
parameters are its recipe options, so options are checked against
``inspect.signature`` (names, required ones, and types through pydantic), and each
mistake is one :class:`~harness.errors.RecipeError` naming its dotted field.
:meth:`harness.registry.Registry.build` and the recipe's resolution both use these.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

from pydantic import TypeAdapter, ValidationError

from harness.errors import RecipeError, did_you_mean


def _parameters(obj: Callable) -> tuple[dict[str, inspect.Parameter], bool, dict[str, Any]]:
    """Keyword-usable parameters, whether **kwargs is accepted, and resolved type hints."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return {}, True, {}
    params = {
        n: p
        for n, p in sig.parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY) and n != "self"
    }
    var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable forward refs: check names only
        hints = {}
    return params, var_kw, hints


def check_options(obj: Callable, options: dict[str, Any], *, kind: str, name: str, field: str, file: str | None) -> dict[str, Any]:
    """Validate ``options`` against ``obj``'s keyword parameters; returns them coerced."""
    params, var_kw, hints = _parameters(obj)
    coerced: dict[str, Any] = {}
    for key, value in options.items():
        if key not in params and not var_kw:
            valid = sorted(params)
            hint = did_you_mean(key, valid)
            listing = f" (options: {', '.join(valid) or 'none'})" if not hint else ""
            raise RecipeError(f"unknown option '{key}' of {kind} '{name}'{hint}{listing}", file=file, field=f"{field}.{key}")
        annotation = hints.get(key)
        if annotation is not None:
            try:
                value = TypeAdapter(annotation).validate_python(value)
            except ValidationError as exc:
                msg = exc.errors()[0].get("msg", "invalid value")
                raise RecipeError(f"{msg[:1].lower()}{msg[1:]} for option of {kind} '{name}', got {value!r}", file=file, field=f"{field}.{key}") from None
        coerced[key] = value
    for pname, param in params.items():
        if param.default is inspect.Parameter.empty and pname not in options:
            raise RecipeError(f"{kind} '{name}' needs option '{pname}'", file=file, field=f"{field}.{pname}")
    return coerced


def _plain(value: Any) -> bool:
    """True for values a YAML recipe can hold (so a filled-in default reads back the same)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def filled_options(obj: Callable, options: dict[str, Any], **where: Any) -> dict[str, Any]:
    """``options`` checked and coerced (:func:`check_options`), plus every default they leave out."""
    coerced = check_options(obj, options, **where)
    params, _, _ = _parameters(obj)
    for pname, param in params.items():
        if pname not in coerced and param.default is not inspect.Parameter.empty and _plain(param.default):
            coerced[pname] = list(param.default) if isinstance(param.default, tuple) else param.default
    return coerced


