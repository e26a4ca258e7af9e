"""Checking a recipe against what is registered, before anything runs.

The schema says a loss is ``{name, **options}``; only the registry knows whether
``kl`` exists and takes ``temperature``. Every registered component with options
is a class or factory whose keyword parameters are its options, so the options a
recipe gives are checked against ``inspect.signature`` (names, required ones, and
types through pydantic), and every mistake names its dotted field.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

from pydantic import TypeAdapter, ValidationError

from harness.data.types import CAPABILITIES
from harness.errors import HarnessError, RecipeError
from harness.recipe.schema import Component, ModelSpec, Recipe
from harness.registry import REGISTRIES, Registry, did_you_mean, registry
from harness.signals.layers import LayerSpecError, parse_layer_spec


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


def _get(reg: Registry, name: str, *, field: str, file: str | None):
    try:
        return reg.get(name)
    except HarnessError as exc:
        raise RecipeError(str(exc), file=file, field=field) from None


def check_component(kind: str, spec: Component, *, field: str, file: str | None) -> None:
    reg = REGISTRIES[kind]
    obj = _get(reg, spec.name, field=f"{field}.name" if spec.options else field, file=file)
    check_options(obj, spec.options, kind=reg.noun, name=spec.name, field=field, file=file)


def check_model(spec: ModelSpec, *, field: str, file: str | None) -> None:
    """The family exists and, where the family publishes them, the scale / zoo size too."""
    family = _get(REGISTRIES["families"], spec.family, field=f"{field}.family", file=file)
    for attr, key in (("scales", "scale"), ("zoo_sizes", "zoo")):
        value = getattr(spec, key)
        table = getattr(family, attr, None)
        if value is None or table is None:
            continue
        known = list(table() if callable(table) else table)
        if value not in known:
            raise RecipeError(
                f"'{value}' is not a {key} of {spec.family}{did_you_mean(value, known)} (known: {', '.join(known)})",
                file=file,
                field=f"{field}.{key}",
            )


def check_recipe(recipe: Recipe, *, file: str | None = None) -> None:
    """Cross-field and registry checks; raises the first problem as a RecipeError."""
    registry("families")  # loads built-ins and plugins once
    check_model(recipe.student, field="student", file=file)
    if recipe.student.sft is not None and recipe.student.sft.data is not None:
        check_component("datasets", recipe.student.sft.data, field="student.sft.data", file=file)
    for key, teacher in recipe.teachers.items():
        check_model(teacher, field=f"teachers.{key}", file=file)
        if teacher.sft is not None and teacher.sft.data is not None:
            check_component("datasets", teacher.sft.data, field=f"teachers.{key}.sft.data", file=file)

    for split in ("train", "eval"):
        spec = getattr(recipe.data, split)
        if spec is not None:
            check_component("datasets", spec, field=f"data.{split}", file=file)

    if not recipe.objectives:
        raise RecipeError("at least one objective is needed (e.g. ce: {weight: 1.0})", file=file, field="objectives")
    used_capabilities = set()
    for name, obj in recipe.objectives.items():
        where = f"objectives.{name}"
        if name == "ce":
            for key in ("teacher", "signal", "loss"):
                if getattr(obj, key) is not None:
                    raise RecipeError(f"'ce' is the hard-label loss and takes no {key}", file=file, field=f"{where}.{key}")
            continue
        for key in ("teacher", "signal", "loss"):
            if getattr(obj, key) is None:
                raise RecipeError(f"a teacher objective needs '{key}'", file=file, field=f"{where}.{key}")
        if obj.teacher not in recipe.teachers:
            known = list(recipe.teachers)
            raise RecipeError(
                f"no teacher '{obj.teacher}' in teachers{did_you_mean(obj.teacher, known)} (known: {', '.join(known) or 'none'})",
                file=file,
                field=f"{where}.teacher",
            )
        _get(REGISTRIES["signals"], obj.signal.type, field=f"{where}.signal.type", file=file)
        _get(REGISTRIES["matchings"], obj.signal.matching, field=f"{where}.signal.matching", file=file)
        try:
            parse_layer_spec(obj.signal.layers)
        except LayerSpecError as exc:
            raise RecipeError(str(exc), file=file, field=f"{where}.signal.layers") from None
        check_component("losses", obj.loss, field=f"{where}.loss", file=file)
        capability = obj.capability or name
        if obj.capability is not None and obj.capability not in CAPABILITIES:
            raise RecipeError(
                f"'{obj.capability}' is not a capability{did_you_mean(obj.capability, CAPABILITIES)} ({', '.join(CAPABILITIES)})",
                file=file,
                field=f"{where}.capability",
            )
        if capability in CAPABILITIES:
            used_capabilities.add(capability)

    used_teachers = {obj.teacher for obj in recipe.objectives.values() if obj.teacher is not None}
    for key in recipe.teachers:
        if key not in used_teachers:
            raise RecipeError(
                f"teacher '{key}' is not used by any objective (remove it, or give an objective `teacher: {key}`)",
                file=file,
                field=f"teachers.{key}",
            )

    if recipe.mixing is not None:
        for row, cols in recipe.mixing.items():
            for col in cols:
                if col not in CAPABILITIES:
                    raise RecipeError(
                        f"'{col}' is not a capability{did_you_mean(col, CAPABILITIES)}", file=file, field=f"mixing.{row}.{col}"
                    )

    check_component("combiners", recipe.combiner, field="combiner", file=file)
    anchor = recipe.combiner.options.get("anchor")
    if anchor is not None and anchor not in recipe.objectives:
        raise RecipeError(
            f"anchor '{anchor}' is not an objective{did_you_mean(anchor, list(recipe.objectives))} "
            f"(objectives: {', '.join(recipe.objectives)})",
            file=file,
            field="combiner.anchor",
        )
    if recipe.reweighting is not None:
        check_component("reweightings", recipe.reweighting, field="reweighting", file=file)
    if recipe.eval.enabled and recipe.data.eval is not None:
        check_component("judges", recipe.eval.judge, field="eval.judge", file=file)
