"""Checking a recipe against what is registered, before anything runs.

The schema says a loss is ``{name, **options}``; only the registry knows whether
``kl`` exists and takes ``temperature``. Every registered component with options
is a class or factory whose keyword parameters are its options, so the options a
recipe gives are checked against ``inspect.signature`` (names, required ones, and
types through pydantic), and every mistake names its dotted field.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from harness.data.types import CAPABILITIES, DRIVEKD_MIXING
from harness.errors import HarnessError, RecipeError
from harness.recipe.schema import Component, ModelSpec, Recipe, SignalSpec
from harness.registry import REGISTRIES, Registry, did_you_mean, registry
from harness.signals.layers import LayerSpecError, parse_layer_spec


def _get(reg: Registry, name: str, *, field: str, file: str | None):
    try:
        return reg.get(name)
    except HarnessError as exc:
        raise RecipeError(str(exc), file=file, field=field) from None


def check_component(kind: str, spec: Component, *, field: str, file: str | None) -> None:
    """What building the component would check, without building it (``harness validate``)."""
    REGISTRIES[kind].options(spec, field=field, file=file)


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


def signal_options(signal: SignalSpec, *, field: str, file: str | None, fill: bool = False) -> dict[str, Any]:
    """The signal kind's options (the spec's keys beyond its fields), checked against the kind
    (with ``fill``, its defaults added); a key that is a misspelt field says so."""
    try:
        return REGISTRIES["signals"].options({"name": signal.type, **signal.options}, field=field, file=file, fill=fill)
    except RecipeError:
        for key in signal.options:
            hint = did_you_mean(key, list(SignalSpec.model_fields))
            if hint:
                raise RecipeError(f"unknown key '{key}'{hint}", file=file, field=f"{field}.{key}") from None
        raise


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
        signal_options(obj.signal, field=f"{where}.signal", file=file)
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

    for name, obj in recipe.objectives.items():
        control = recipe.teachers[obj.teacher].control if obj.teacher is not None else None
        kind = REGISTRIES["signals"].get(obj.signal.type) if control is not None else None
        if kind is not None and REGISTRIES["recorders"].get(kind.needs).key_axis is None:
            raise RecipeError(
                f"control '{control.type}' permutes the image-token columns of attention maps; objective "
                f"'{name}' distils '{obj.signal.type}' ({kind.needs}), which has no key columns",
                file=file, field=f"teachers.{obj.teacher}.control",
            )

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
    if recipe.train.trackers:
        from harness.train.tracking import check_trackers

        check_trackers(recipe.train.trackers, file=file)
    url = recipe.eval.judge.options.get("base_url")
    if isinstance(url, str) and "@" in urlsplit(url).netloc:
        raise RecipeError("holds credentials (user:key@host), which would be written into every run folder; "
                          "put the key in the environment variable named by api_key_env",
                          file=file, field="eval.judge.base_url")


# -- resolution: what the run's identity is made of ------------------------------------


def component_fields(recipe: Recipe) -> list[tuple[str, tuple[str, ...], Component]]:
    """Every registered component a recipe uses: (registry kind, path in the recipe, spec)."""
    out: list[tuple[str, tuple[str, ...], Component]] = []
    models = [(("student",), recipe.student), *((("teachers", k), t) for k, t in recipe.teachers.items())]
    for path, mspec in models:
        if mspec.sft is not None and mspec.sft.data is not None:
            out.append(("datasets", (*path, "sft", "data"), mspec.sft.data))
    for split in ("train", "eval"):
        spec = getattr(recipe.data, split)
        if spec is not None:
            out.append(("datasets", ("data", split), spec))
    for name, obj in recipe.objectives.items():
        if obj.loss is not None:
            out.append(("losses", ("objectives", name, "loss"), obj.loss))
    out.append(("combiners", ("combiner",), recipe.combiner))
    if recipe.reweighting is not None:
        out.append(("reweightings", ("reweighting",), recipe.reweighting))
    if recipe.eval.enabled and recipe.data.eval is not None:
        out.append(("judges", ("eval", "judge"), recipe.eval.judge))
    return out


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def resolve(recipe: Recipe, data: dict[str, Any], *, file: str | None) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """``data`` (the recipe's schema dump) resolved: every component's options with defaults
    filled in, the default mixing when teacher objectives use it, and ``versions``.

    Returns it with the paths of the components' operational options (kept out of the
    identity, :mod:`harness.recipe.identity`). A ``versions`` entry the recipe gives for a
    component it uses must equal the code's version.
    """
    versions: dict[str, dict[str, int]] = {}
    operational: list[tuple[str, ...]] = []

    def note(kind: str, name: str) -> None:
        versions.setdefault(kind, {})[name] = REGISTRIES[kind].version(name)

    for kind, path, spec in component_fields(recipe):
        reg = REGISTRIES[kind]
        options = reg.options(spec, field=".".join(path), file=file, fill=True)
        declared = {k: getattr(spec, k) for k in type(spec).model_fields if k != "name"}  # data.train.capabilities
        _set(data, path, {"name": spec.name, **declared, **options})
        note(kind, spec.name)
        operational += [(*path, key) for key in reg.operational(spec.name) if key in options]
    for mspec in (recipe.student, *recipe.teachers.values()):
        note("families", mspec.family)
    teacher_objectives = [o for n, o in recipe.objectives.items() if n != "ce"]
    for name, obj in recipe.objectives.items():
        if name != "ce":
            where = f"objectives.{name}.signal"
            data["objectives"][name]["signal"].update(signal_options(obj.signal, field=where, file=file, fill=True))
    for obj in teacher_objectives:
        note("signals", obj.signal.type)
        note("matchings", obj.signal.matching)
        needs = registry("signals").get(obj.signal.type).needs
        if registry("recorders").version(needs) != 1:  # version 1 is implicit: identities made before
            note("recorders", needs)  # recorders had versions stay valid
    if data.get("mixing") is None and teacher_objectives:
        data["mixing"] = copy.deepcopy(DRIVEKD_MIXING)
    for kind, names in (recipe.versions or {}).items():
        for name, given in (names or {}).items():
            have = versions.get(kind, {}).get(name)
            if have is not None and have != given:
                raise RecipeError(
                    f"this recipe was resolved with {REGISTRIES[kind].noun} '{name}' version {given}, the code's is "
                    f"version {have} (its results would differ; remove the line to run the current one)",
                    file=file, field=f"versions.{kind}.{name}",
                )
    data["versions"] = {kind: dict(sorted(names.items())) for kind, names in sorted(versions.items())}
    return data, operational
