"""The local files a recipe names: weights folders, data files and data roots, each with its field.

``harness validate --check-files`` and ``harness run`` (before it loads anything)
check that they exist, so a typo in a path fails in a second with the field named,
not after minutes of loading models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from harness.errors import HarnessError

#: Component options that name a local file or folder, by option name.
PATH_OPTIONS = ("path", "data_root")
#: Options that map names to files (DriveBench's corruption files).
PATH_MAP_OPTIONS = ("corruption_files",)


def named_paths(recipe) -> Iterator[tuple[str, str]]:
    """``(dotted field, path)`` of every local path the recipe names."""
    spec = recipe.spec
    models = [("student", spec.student), *((f"teachers.{k}", t) for k, t in spec.teachers.items())]
    components: list[tuple[str, Any]] = [("data.train", spec.data.train), ("data.eval", spec.data.eval)]
    for field, model in models:
        if model.path is not None:
            yield f"{field}.path", model.path
        if model.sft is not None:
            components.append((f"{field}.sft.data", model.sft.data))
    for field, component in components:
        if component is None:
            continue
        options = component.options
        for name in PATH_OPTIONS:
            if isinstance(options.get(name), str):
                yield f"{field}.{name}", options[name]
        for name in PATH_MAP_OPTIONS:
            for key, value in (options.get(name) or {}).items():
                if isinstance(value, str):
                    yield f"{field}.{name}.{key}", value


def missing_files(recipe) -> list[str]:
    """One line per named path that does not exist (empty when all do)."""
    return [f"{field}: '{path}' does not exist" for field, path in named_paths(recipe)
            if not Path(path).expanduser().exists()]


def check_files(recipe) -> None:
    """Raise a one-line :class:`HarnessError` naming the first missing path's field (and how many more)."""
    missing = missing_files(recipe)
    if missing:
        more = f" (and {len(missing) - 1} more missing path(s))" if len(missing) > 1 else ""
        raise HarnessError(f"{recipe.source or recipe.name}: {missing[0]}{more}")
