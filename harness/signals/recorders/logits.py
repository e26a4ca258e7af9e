"""The output logits (the CE+KL baseline): no layers, one tensor per forward."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from harness.registry import RECORDERS
from harness.signals.recorder import Recorder, Tap

OUTPUT = "logits"  # the key of the one tensor this recorder reads


class _LogitsTap(Tap):
    def __init__(self):
        self.forward_kwargs = {}

    def __enter__(self) -> "_LogitsTap":
        return self

    def read(self, outputs) -> dict[Any, torch.Tensor]:
        return {OUTPUT: outputs.logits}


@RECORDERS.register("logits")
class LogitsRecorder(Recorder):
    """The model's output logits [batch, sequence, vocabulary]; the signal has no layers."""

    def tap(self, loaded, layers: Sequence[int], *, grad: bool) -> Tap:
        return _LogitsTap()

    def eager(self, outputs) -> dict[Any, torch.Tensor]:
        return {OUTPUT: outputs.logits}

    def signals(self, taken: Mapping[Any, torch.Tensor], plan) -> list[torch.Tensor]:
        return [taken[OUTPUT]]

    def targets(self, taken: Mapping[Any, torch.Tensor], plan) -> list[torch.Tensor]:
        return [taken[OUTPUT].detach()]
