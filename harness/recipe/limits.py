"""Numbers a recipe may hold, checked on the merged data before the schema sees it.

YAML reads ``.inf`` and ``.nan`` as floats and integers of any size, and pydantic's
``gt=0`` lets infinity through: ``--set train.lr=.inf`` trained to all-NaN weights
and reported "finished", and a 30-digit seed ended in an overflow traceback deep in
numpy. No recipe field means anything by a non-finite number or an integer beyond
64 bits, so both are refused anywhere in the recipe, naming the field.
"""

from __future__ import annotations

import math
from typing import Any

from harness.errors import RecipeError

MAX_INT = 2**63 - 1
MAX_DEPTH = 32


def check_numbers(data: Any, *, file: str | None = None, path: str = "", depth: int = 0) -> None:
    """Raise :class:`RecipeError` for a NaN/inf float, an integer beyond 64 bits or nesting beyond MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise RecipeError(f"nested deeper than {MAX_DEPTH} levels", file=file, field=path or None)
    if isinstance(data, bool):
        return
    if isinstance(data, float) and not math.isfinite(data):
        raise RecipeError(f"{data} is not a finite number", file=file, field=path or None)
    if isinstance(data, int) and abs(data) > MAX_INT:
        raise RecipeError(f"{data} is out of range (at most {MAX_INT} in size)", file=file, field=path or None)
    if isinstance(data, dict):
        for key, value in data.items():
            check_numbers(value, file=file, path=f"{path}.{key}" if path else str(key), depth=depth + 1)
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            check_numbers(value, file=file, path=f"{path}[{i}]", depth=depth + 1)
