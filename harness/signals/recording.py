"""Several recorders around one forward pass.

A run's objectives may need attention maps of some layers, hidden states of others
and the logits, from the same student (or teacher) forward. :class:`Recording` takes
the union of their requests (recorder name → layers), enters each recorder's tap
around the forward and reads every recorder's tensors back from the outputs::

    with Recording(loaded, {"attention": [0, 22], "hidden": [23]}, grad=False) as rec:
        out = loaded.model(**batch.model_inputs(), **rec.forward_kwargs)
    taken = rec.read(out)        # {"attention": {0: …, 22: …}, "hidden": {23: …}}
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import ExitStack
from typing import Any, Iterable, Mapping

import torch

from harness.registry import RECORDERS


def requests(pairs: Iterable[tuple[str, Iterable[int]]]) -> dict[str, list[int]]:
    """The union of (recorder name, layers) requests: each recorder's layers, sorted and unique."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for name, layers in pairs:
        wanted[name].update(int(layer) for layer in layers)
    return {name: sorted(layers) for name, layers in sorted(wanted.items())}


class Recording:
    """The taps of every requested recorder around one forward of ``loaded``."""

    def __init__(self, loaded, wanted: Mapping[str, Iterable[int]], *, grad: bool):
        self.taps = {name: RECORDERS.build(name, field="recorder").tap(loaded, sorted(set(layers)), grad=grad)
                     for name, layers in wanted.items()}
        self._stack: ExitStack | None = None

    @property
    def forward_kwargs(self) -> dict[str, Any]:
        """Every tap's forward keyword arguments, merged."""
        merged: dict[str, Any] = {}
        for tap in self.taps.values():
            merged.update(tap.forward_kwargs)
        return merged

    def __enter__(self) -> "Recording":
        self._stack = ExitStack()
        for tap in self.taps.values():
            self._stack.enter_context(tap)
        return self

    def __exit__(self, *exc) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(*exc)

    def read(self, outputs) -> dict[str, dict[Any, torch.Tensor]]:
        """Each recorder's tensors by layer."""
        return {name: tap.read(outputs) for name, tap in self.taps.items()}
