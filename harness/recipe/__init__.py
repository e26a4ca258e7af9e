"""Recipes: plain YAML data → a validated, hashed :class:`LoadedRecipe`.

``load_recipe(path, overrides)`` reads the file (safe YAML, ``extends:``), applies
``--set`` overrides, validates the shape (:mod:`.schema`) and then the registry
names and component options (:mod:`.components`), and resolves it into the
configuration whose hash is the run's identity (:mod:`.identity`). Every mistake is one
:class:`~harness.errors.RecipeError` naming the file and the dotted field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from harness.errors import RecipeError
from harness.recipe.components import check_recipe, resolve
from harness.recipe.identity import canonical_order, config_hash, legacy_hash
from harness.recipe.loader import apply_overrides, dump_yaml, resolve_extends
from harness.recipe.limits import check_numbers
from harness.recipe.messages import recipe_error
from harness.recipe.schema import Recipe

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "recipe_from_dict"]


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe: its resolved data and the hash of its configuration.

    ``resolved`` is what ``recipe.resolved.yaml`` holds (every default filled in, component
    versions included); ``hash`` is the configuration hash (:mod:`.identity`: no labels, no
    seed, no operational fields) that names ``<hash8>-s<seed>``; ``legacy_hash`` is what the
    first identity called the same recipe (to recognise its old run folders).
    """

    spec: Recipe
    resolved: dict[str, Any]
    hash: str
    source: str | None = None  # the file it came from
    legacy_hash: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def seed(self) -> int:
        return self.spec.seed

    def to_yaml(self) -> str:
        return dump_yaml(self.resolved)

    def with_overrides(self, overrides: Iterable[str]) -> "LoadedRecipe":
        return recipe_from_dict(apply_overrides(self.resolved, overrides), source=self.source)


def _validated(data: dict[str, Any], source: str | None) -> Recipe:
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise recipe_error(Recipe, exc, source) from None


def recipe_from_dict(data: dict[str, Any], *, source: str | None = None, check: bool = True) -> LoadedRecipe:
    """Validate plain recipe data (already merged) into a :class:`LoadedRecipe`.

    Mappings are put in canonical (sorted) order first, so the order a file lists its
    objectives in never changes what trains. With ``check`` the registry names and
    component options are checked and the recipe resolved (defaults, versions); without,
    only the schema applies (and the hash covers the schema's defaults only).
    """
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe must be a mapping, got {type(data).__name__}", file=source)
    check_numbers(data, file=source)
    data = dict(data)
    if "name" not in data and source is not None:
        data["name"] = Path(source).stem
    spec = _validated(canonical_order(data), source)
    as_written = spec.model_dump(mode="json", exclude_none=False)
    resolved, operational = as_written, []
    if check:
        check_recipe(spec, file=source)
        resolved, operational = resolve(spec, copy.deepcopy(as_written), file=source)
        spec = _validated(resolved, source)
        resolved = spec.model_dump(mode="json", exclude_none=False)
    return LoadedRecipe(spec=spec, resolved=resolved, hash=config_hash(resolved, operational), source=source,
                        legacy_hash=legacy_hash(as_written))


def load_recipe(path: str | Path, overrides: Iterable[str] = (), *, check: bool = True) -> LoadedRecipe:
    """Read, merge, override, validate and hash the recipe at ``path``."""
    source = str(path)
    data = resolve_extends(path)
    try:
        data = apply_overrides(data, overrides)
    except RecipeError as exc:
        raise RecipeError(exc.detail, file=source, field=exc.field) from None
    return recipe_from_dict(data, source=source, check=check)
