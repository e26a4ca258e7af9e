"""Layer specs: which decoder layers a signal reads, resolved per model depth.

A spec is plain recipe data: ``first``, ``penultimate``, ``last``, an integer
(negative counts from the end, as in Python), a list of those, or a range
``{start, end}`` (both inclusive, each any of the single forms). A spec is parsed
once (so ``harness validate`` can reject it without loading a model) and then
resolved against each model's own depth, because a student and its teacher
usually have different numbers of layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from harness.errors import HarnessError
from harness.registry import did_you_mean

NAMED = {"first": 0, "penultimate": -2, "last": -1}

Single = Union[int, str]


class LayerSpecError(HarnessError, ValueError):
    """A layer spec that cannot be parsed or resolved."""


def _parse_single(value: Any) -> int:
    if isinstance(value, bool):
        raise LayerSpecError(f"{value!r} is not a layer spec (use first, penultimate, last or an integer)")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in NAMED:
            return NAMED[text]
        try:
            return int(text)
        except ValueError:
            pass
        raise LayerSpecError(
            f"'{value}' is not a layer spec{did_you_mean(text, list(NAMED))} "
            "(use first, penultimate, last, an integer, a list or {start, end})"
        )
    raise LayerSpecError(f"{value!r} is not a layer spec (use first, penultimate, last, an integer, a list or {{start, end}})")


@dataclass(frozen=True)
class LayerSpec:
    """A parsed layer spec: either explicit indices or an inclusive range."""

    indices: tuple[int, ...] = ()
    start: int | None = None
    end: int | None = None
    source: Any = None

    @property
    def is_range(self) -> bool:
        return self.start is not None

    def resolve(self, depth: int, *, model: str = "model") -> list[int]:
        """Absolute 0-based layer indices for a model with ``depth`` decoder layers."""
        if depth <= 0:
            raise LayerSpecError(f"{model} has no decoder layers")

        def absolute(i: int) -> int:
            j = i + depth if i < 0 else i
            if not 0 <= j < depth:
                raise LayerSpecError(
                    f"layer {i} is out of range for {model} with {depth} layers (valid: 0..{depth - 1} or -{depth}..-1)"
                )
            return j

        if self.is_range:
            lo, hi = absolute(self.start), absolute(self.end)
            if lo > hi:
                raise LayerSpecError(
                    f"layer range {self.source!r} is empty for {model} with {depth} layers (start {lo} > end {hi})"
                )
            return list(range(lo, hi + 1))
        out: list[int] = []
        for i in self.indices:
            j = absolute(i)
            if j not in out:
                out.append(j)
        return out


def parse_layer_spec(value: Any) -> LayerSpec:
    """Parse recipe data into a :class:`LayerSpec`; raises :class:`LayerSpecError`."""
    if isinstance(value, LayerSpec):
        return value
    if isinstance(value, dict):
        unknown = set(value) - {"start", "end"}
        if unknown:
            key = sorted(unknown)[0]
            raise LayerSpecError(f"unknown key '{key}' in a layer range{did_you_mean(key, ['start', 'end'])} (a range is {{start, end}})")
        if "start" not in value or "end" not in value:
            raise LayerSpecError("a layer range needs both 'start' and 'end'")
        return LayerSpec(start=_parse_single(value["start"]), end=_parse_single(value["end"]), source=value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise LayerSpecError("an empty list is not a layer spec")
        return LayerSpec(indices=tuple(_parse_single(v) for v in value), source=list(value))
    return LayerSpec(indices=(_parse_single(value),), source=value)


def resolve_layers(value: Any, depth: int, *, model: str = "model") -> list[int]:
    """Parse and resolve in one call."""
    return parse_layer_spec(value).resolve(depth, model=model)
