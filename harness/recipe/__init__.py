"""Recipes: plain YAML data → a validated, hashed :class:`LoadedRecipe`.

``load_recipe(path, overrides)`` reads the file (safe YAML, ``extends:``), applies
``--set`` overrides, validates the shape (:mod:`.schema`) and then the registry
names and component options (:mod:`.components`). Every mistake is one
:class:`~harness.errors.RecipeError` naming the file and the dotted field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from harness.errors import RecipeError
from harness.recipe.components import check_recipe
from harness.recipe.loader import apply_overrides, dump_yaml, recipe_hash, resolve_extends
from harness.recipe.messages import recipe_error
from harness.recipe.schema import Recipe

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "recipe_from_dict"]


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe with its resolved data and content hash."""

    spec: Recipe
    resolved: dict[str, Any]  # defaults filled in; what is hashed and written to the run dir
    hash: str
    source: str | None = None  # the file it came from

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


def recipe_from_dict(data: dict[str, Any], *, source: str | None = None, check: bool = True) -> LoadedRecipe:
    """Validate plain recipe data (already merged) into a :class:`LoadedRecipe`."""
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe must be a mapping, got {type(data).__name__}", file=source)
    data = dict(data)
    if "name" not in data and source is not None:
        data["name"] = Path(source).stem
    try:
        spec = Recipe.model_validate(data)
    except ValidationError as exc:
        raise recipe_error(Recipe, exc, source) from None
    if check:
        check_recipe(spec, file=source)
    resolved = spec.model_dump(mode="json", exclude_none=False)
    return LoadedRecipe(spec=spec, resolved=resolved, hash=recipe_hash(resolved), source=source)


def load_recipe(path: str | Path, overrides: Iterable[str] = (), *, check: bool = True) -> LoadedRecipe:
    """Read, merge, override, validate and hash the recipe at ``path``."""
    source = str(path)
    data = resolve_extends(path)
    try:
        data = apply_overrides(data, overrides)
    except RecipeError as exc:
        raise RecipeError(exc.detail, file=source, field=exc.field) from None
    return recipe_from_dict(data, source=source, check=check)
