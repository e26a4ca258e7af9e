"""Reading recipes: safe YAML, ``extends:`` inheritance, ``--set`` overrides.

Only ``yaml.safe_load`` semantics are used (no tags that construct objects), and
duplicate keys are errors rather than silently keeping the last one. A recipe may
``extends:`` one or more base files (paths relative to itself); mappings merge
recursively, anything else is replaced. ``--set a.b=c`` overrides are applied
last, with ``c`` read as YAML (so ``--set train.lr=1e-4`` is a float).

Hashing happens elsewhere: :mod:`harness.recipe.identity` serialises the resolved
recipe canonically (sorted keys, JSON), so formatting and key order never change an
identity, and says what a run's identity covers.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from harness.errors import RecipeError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys in a mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (line {mark.line + 1})", mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# YAML 1.1 reads `1e-4` (no dot) as a string; researchers write learning rates that way.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_UniqueKeyLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:float"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; any problem is one RecipeError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise RecipeError("is a directory, not a recipe file", file=str(path)) from None
    except UnicodeDecodeError:
        raise RecipeError("is not UTF-8 text", file=str(path)) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark else None
        problem = exc.problem or str(exc)
        if "could not determine a constructor" in problem:
            problem = f"YAML tags are not allowed in recipes ({problem.split('for the tag')[-1].strip()})"
        raise RecipeError(problem, file=str(path), field=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"invalid YAML: {problem}", file=str(path), field=where) from None
    except RecursionError:
        raise RecipeError("is nested too deeply", file=str(path)) from None
    if data is None:
        raise RecipeError("is empty", file=str(path))
    if not isinstance(data, dict):
        raise RecipeError(f"must be a mapping at the top level, got {type(data).__name__}", file=str(path))
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: mappings merge recursively, other values replace."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_extends(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe at ``path`` with its ``extends:`` bases merged underneath it."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise RecipeError(f"extends cycle: {cycle}", file=str(_chain[0]), field="extends")
    data = read_yaml(path)
    bases = data.pop("extends", None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise RecipeError("must be a file path or a list of file paths", file=str(path), field="extends")
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = (path.parent / base).resolve()
        if not base_path.exists():
            raise RecipeError(f"base recipe '{base}' not found (looked for {base_path})", file=str(path), field="extends")
        merged = deep_merge(merged, resolve_extends(base_path, (*_chain, path)))
    return deep_merge(merged, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` → (["a", "b", "c"], value read as YAML)."""
    if "=" not in text:
        raise RecipeError(f"--set '{text}': expected KEY=VALUE (e.g. train.lr=1e-4)")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise RecipeError(f"--set '{text}': '{key}' is not a dotted field path")
    try:
        value = yaml.load(raw, Loader=_UniqueKeyLoader) if raw.strip() else ""  # noqa: S506
    except (yaml.YAMLError, RecursionError):
        raise RecipeError(f"--set '{text}': the value is not valid YAML") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides in order; intermediate mappings are created as needed."""
    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if isinstance(child, str):  # a component given by name (`judge: rubric`) gains options
                child = node[part] = {"name": child}
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise RecipeError(f"--set '{text}': '{where}' is a {type(child).__name__}, not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def dump_yaml(resolved: dict[str, Any]) -> str:
    """The resolved recipe as YAML (what recipe.resolved.yaml holds)."""
    return yaml.safe_dump(resolved, sort_keys=True, default_flow_style=False, allow_unicode=True)
