"""Hidden states of chosen decoder layers (the hidden-state baseline)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from harness.registry import RECORDERS
from harness.signals.recorder import Recorder, Tap


def hidden_states_of(outputs, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """Decoder-layer outputs from a forward run with ``output_hidden_states=True`` (index 0 is the embeddings)."""
    states = outputs.hidden_states
    return {int(i): states[int(i) + 1] for i in layers}


class _HiddenTap(Tap):
    def __init__(self, layers: Sequence[int]):
        self.layers = list(layers)
        self.forward_kwargs = {"output_hidden_states": True}

    def __enter__(self) -> "_HiddenTap":
        return self

    def read(self, outputs) -> dict[Any, torch.Tensor]:
        return hidden_states_of(outputs, self.layers)


@RECORDERS.register("hidden")
class HiddenRecorder(Recorder):
    """Decoder-layer outputs [batch, sequence, width] of the requested layers (``output_hidden_states``)."""

    def tap(self, loaded, layers: Sequence[int], *, grad: bool) -> Tap:
        return _HiddenTap(layers)

    def eager(self, outputs) -> dict[Any, torch.Tensor]:
        return dict(enumerate(outputs.hidden_states[1:]))

    def width(self, loaded) -> int | None:
        config = getattr(loaded.model.config, "text_config", loaded.model.config)
        return int(config.hidden_size)

    def comparable(self, signal: torch.Tensor, target: torch.Tensor) -> bool:
        # student and teacher widths may differ: the hidden loss projects the student's
        return signal.shape[:-1] == target.shape[:-1]
