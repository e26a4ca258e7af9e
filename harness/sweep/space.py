"""Search-space entries: one distribution per dotted recipe path.

An ablation writes a plain list (``combiner.name: [sum, pcgrad, agp]``) for a grid
of values, or an Optuna-style mapping (``{type: float, low: 1e-4, high: 1e-2,
log: true}``). Optuna's categorical parameters only hold scalars, but a recipe
value may be a mapping (``layers: {start: 2, end: -3}``); such choices are stored
in Optuna as their canonical JSON text and decoded back before they reach the
recipe, so the dashboard shows them readably and the recipe gets the real value.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCALARS = (type(None), bool, int, float, str)


def encode_choice(value: Any) -> Any:
    """A value Optuna can store: scalars as they are, anything else as canonical JSON."""
    if isinstance(value, SCALARS):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Distribution(BaseModel):
    """One searchable recipe field: a float or int range, or a list of choices."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["float", "int", "categorical"] = Field(description="float | int | categorical")
    low: Optional[float] = Field(None, description="lower bound (float, int)")
    high: Optional[float] = Field(None, description="upper bound, inclusive (float, int)")
    log: bool = Field(False, description="sample on a log scale (float, int)")
    step: Optional[float] = Field(None, description="discretisation step (float, int)")
    choices: Optional[list[Any]] = Field(None, description="the values (categorical); a plain list is shorthand")

    @model_validator(mode="before")
    @classmethod
    def _list_is_a_grid(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"type": "categorical", "choices": value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Distribution":
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical entry needs a non-empty list of choices")
            extra = [k for k in ("low", "high", "step") if getattr(self, k) is not None]
            if extra or self.log:
                raise ValueError(f"a categorical entry takes only 'choices' (got {', '.join(extra) or 'log'})")
            encoded = [encode_choice(c) for c in self.choices]
            if len(set(map(repr, encoded))) != len(encoded):
                raise ValueError("the choices repeat a value")
            return self
        if self.choices is not None:
            raise ValueError(f"'choices' belongs to categorical entries, not {self.type}")
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} range needs 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs 'low' > 0")
        if self.log and self.step is not None:
            raise ValueError("give either 'log' or 'step', not both")
        if self.step is not None and self.step <= 0:
            raise ValueError("'step' must be > 0")
        if self.type == "int" and any(v is not None and float(v) != int(v) for v in (self.low, self.high, self.step)):
            raise ValueError("an int range needs whole-number 'low', 'high' and 'step'")
        return self

    # -- Optuna side -------------------------------------------------------------------------

    def to_optuna(self):
        """The Optuna distribution (categorical choices encoded for storage)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.type == "categorical":
            return CategoricalDistribution([encode_choice(c) for c in self.choices])
        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def decode(self, stored: Any) -> Any:
        """The recipe value for a value Optuna returned."""
        if self.type == "categorical":
            for choice in self.choices:
                if encode_choice(choice) == stored and type(encode_choice(choice)) is type(stored):
                    return choice
            raise ValueError(f"{stored!r} is not one of the choices")
        return int(stored) if self.type == "int" else float(stored)

    # -- grids -------------------------------------------------------------------------------

    @property
    def enumerable(self) -> bool:
        """Whether the grid sampler can list every value (choices or an int range)."""
        return self.type == "categorical" or (self.type == "int" and not self.log)

    def grid_values(self) -> list[Any]:
        """Every value of a grid entry, in file order (encoded as Optuna stores them)."""
        if self.type == "categorical":
            return [encode_choice(c) for c in self.choices]
        if self.type == "int" and not self.log:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise ValueError("only choices and int ranges can be listed as a grid")

    def representative(self) -> Any:
        """A value used to check at load time that the path fits the recipe."""
        if self.type == "categorical":
            return self.choices[0]
        return int(self.low) if self.type == "int" else float(self.low)
