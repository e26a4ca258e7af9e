"""Applying a variant's overrides to the base recipe's data.

A variant is a mapping of recipe overrides, nested (``combiner: {name: agp}``) or
dotted (``"train.lr": 1e-4``), merged onto the base like ``extends:`` merges files:
mappings merge key by key. That cannot remove anything, yet a CE-only baseline
must drop the base's teachers and teacher objectives. YAML tags are not allowed
in recipes, so a variant lists the paths it replaces wholesale under the reserved
key ``_replace``: ``{_replace: [objectives, teachers], objectives: {ce: {}}}``
replaces ``objectives`` by the variant's value and, since the variant gives no
``teachers``, resets them to the recipe default (none).
"""

from __future__ import annotations

import copy
from typing import Any

from harness.errors import RecipeError
from harness.recipe.loader import deep_merge

REPLACE_KEY = "_replace"


def expand_dotted(overrides: dict[str, Any], *, where: str = "") -> dict[str, Any]:
    """``{"a.b": 1, "a": {"c": 2}}`` → ``{"a": {"b": 1, "c": 2}}`` (recursively)."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise RecipeError(f"'{key}' is not a dotted recipe path", field=where or None)
        if isinstance(value, dict):
            value = expand_dotted(value, where=f"{where}.{key}" if where else key)
        parts = key.split(".")
        nested: Any = value
        for part in reversed(parts[1:]):
            nested = {part: nested}
        head = parts[0]
        if head in out and isinstance(out[head], dict) and isinstance(nested, dict):
            out[head] = deep_merge(out[head], nested)
        elif head in out:
            raise RecipeError(f"'{key}' is given twice", field=where or None)
        else:
            out[head] = nested
    return out


def delete_path(data: dict[str, Any], dotted: str) -> None:
    """Remove ``a.b.c`` from nested ``data`` when present (absent parents are fine)."""
    parts = dotted.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested ``data``, creating mappings on the way."""
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RecipeError(f"'{'.'.join(parts[: i + 1])}' is a {type(child).__name__}, not a mapping", field=dotted)
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def apply_variant(base: dict[str, Any], overrides: dict[str, Any], *, where: str = "") -> dict[str, Any]:
    """The base recipe data with a variant's overrides (and ``_replace`` paths) applied."""
    overrides = dict(overrides or {})
    replace = overrides.pop(REPLACE_KEY, [])
    if isinstance(replace, str):
        replace = [replace]
    if not isinstance(replace, list) or not all(isinstance(p, str) and p for p in replace):
        raise RecipeError("must be a list of dotted recipe paths", field=f"{where}.{REPLACE_KEY}" if where else REPLACE_KEY)
    nested = expand_dotted(overrides, where=where)
    out = copy.deepcopy(base)
    for path in replace:
        delete_path(out, path)
    return deep_merge(out, nested)


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested overrides as ``{dotted path: leaf value}`` (what run.json's params record)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out
