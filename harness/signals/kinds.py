"""Signal kinds: what is read from a model and which entries of it a loss compares.

Each kind names the recorder that reads what it needs from a forward pass
(``needs``, a name in ``RECORDERS``: ``attention`` maps of some layers, ``hidden``
states of some layers, the output ``logits``, or any registered recorder;
:mod:`harness.signals.recorder`) and builds the boolean mask of entries that
count, from the batch alone. The mask is the same for student and teacher because
both see the same token layout (checked beforehand).
"""

from __future__ import annotations

import functools
from typing import Literal

import torch

from harness.registry import RECORDERS, SIGNALS


class SignalKind:
    """Base: ``needs`` names its recorder (``RECORDERS``); ``uses_layers`` says if a layer spec applies."""

    needs: str = "attention"
    uses_layers: bool = True
    version: int = 1  # enters every run's identity: bump it when a change alters the signal

    @functools.cached_property
    def recorder(self):
        """The recorder that captures, stores and pads this signal's tensors (recorders hold no state).

        Built once per kind: the training step asks for it several times, and a registry build
        (checking options against the signature) cost 5 % of a tiny-zoo AGP step."""
        return RECORDERS.build(self.needs, field=f"signal {type(self).__name__}.needs")

    def entry_mask(self, batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


ROWS = ("after_image", "all")


@SIGNALS.register("text_to_vision")
class TextToVision(SignalKind):
    """Attention of non-image tokens (rows) to image tokens (columns), a block of the full softmax map.

    ``rows``: ``after_image`` (the default) leaves out the rows of tokens placed before the
    sample's first image token: under causal attention they cannot attend to any image token,
    so their block rows are zero for student and teacher alike and would only dilute the mean.
    ``all`` keeps every non-image row, as Drive-KD's released trainer does (the paper
    recipes say so). The block is never renormalised either way.
    """

    version = 2  # 2: rows (after_image by default; version 1 compared every non-image row)

    def __init__(self, rows: Literal["after_image", "all"] = "after_image"):
        if rows not in ROWS:
            raise ValueError(f"rows '{rows}' is not one of {', '.join(ROWS)}")
        self.rows = rows

    def entry_mask(self, batch) -> torch.Tensor:
        valid = batch.attention_mask.bool()
        image = batch.image_mask.bool() & valid
        rows = valid & ~image
        if self.rows == "after_image":
            rows = rows & after_first_image(image)
        return rows[:, :, None] & image[:, None, :]


def after_first_image(image: torch.Tensor) -> torch.Tensor:
    """[B, S] booleans: positions at or after each sample's first image token (none without images).

    Positions are the sequence's own indices, so left and right padding alike are handled,
    and with several images the first one decides (a later row sees at least that image).
    """
    return image.to(torch.int32).cumsum(dim=1) > 0


@SIGNALS.register("full")
class FullAttention(SignalKind):
    """The whole attention map over valid tokens (upper-triangle zeros included, as a plain mean does)."""

    def entry_mask(self, batch) -> torch.Tensor:
        valid = batch.attention_mask.bool()
        return valid[:, :, None] & valid[:, None, :]


@SIGNALS.register("hidden")
class HiddenStates(SignalKind):
    """Hidden states (output of the chosen decoder layers) on valid tokens; the hidden-state baseline."""

    needs = "hidden"

    def entry_mask(self, batch) -> torch.Tensor:
        return batch.attention_mask.bool()[:, :, None]


@SIGNALS.register("logits")
class Logits(SignalKind):
    """Output logits on the answer tokens (the CE+KL baseline); no layers."""

    needs = "logits"
    uses_layers = False

    def entry_mask(self, batch) -> torch.Tensor:
        """Positions whose logits predict an answer token (labels are shifted by one, as in CE)."""
        if batch.labels is None:
            return batch.attention_mask.bool()[:, :, None]
        predicts_answer = torch.zeros_like(batch.labels, dtype=torch.bool)
        predicts_answer[:, :-1] = batch.labels[:, 1:] != -100
        return predicts_answer[:, :, None]
