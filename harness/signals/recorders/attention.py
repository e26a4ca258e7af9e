"""Head-mean attention maps of chosen decoder layers (the Drive-KD signals)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from harness.registry import RECORDERS
from harness.signals.capture import AttentionCapture
from harness.signals.recorder import Recorder, Tap


class _AttentionTap(Tap):
    def __init__(self, loaded, layers: Sequence[int], grad: bool):
        self.capture = AttentionCapture(loaded, layers, grad=grad)
        self.forward_kwargs = {}

    def __enter__(self) -> "_AttentionTap":
        self.capture.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.capture.__exit__(*exc)

    def read(self, outputs) -> dict[Any, torch.Tensor]:
        return dict(self.capture.maps)


@RECORDERS.register("attention")
class AttentionRecorder(Recorder):
    """Head-mean attention maps [batch, query, key] of the requested layers, recomputed beside a fast forward."""

    key_axis = -1

    def tap(self, loaded, layers: Sequence[int], *, grad: bool) -> Tap:
        return _AttentionTap(loaded, layers, grad)

    def eager(self, outputs) -> dict[Any, torch.Tensor]:
        return {i: a.mean(dim=1) for i, a in enumerate(outputs.attentions)}

    def trim(self, target: torch.Tensor, length: int) -> torch.Tensor:
        return target[:length, :length]

    def pad(self, stored: torch.Tensor, seq: int) -> torch.Tensor:
        n = stored.shape[0]
        if n == seq:
            return stored
        out = stored.new_zeros(seq, seq)
        out[:n, :n] = stored
        return out
