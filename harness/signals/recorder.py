"""Recorders: what a kind of teacher target is read from a forward pass, and how it is kept.

A signal kind (:mod:`harness.signals.kinds`) says which entries a loss compares; the
recorder it names (``SignalKind.needs``, a name in the ``RECORDERS`` registry) knows
everything else about the tensors themselves:

- what to capture: :meth:`Recorder.tap` puts whatever one forward pass needs around it
  (hooks on some layers, a forward keyword) and reads the tensors of the requested
  layers back from its outputs; :mod:`harness.signals.recording` runs the taps of
  several recorders around one forward;
- which captured tensors an objective compares: :meth:`Recorder.signals` (the
  student's, one per matched layer) and :meth:`Recorder.targets` (the teacher's, the
  mean of each matched layer group);
- how a per-sample target is stored and read back: :meth:`Recorder.trim` keeps the
  valid positions of one sample of a right-padded batch, :meth:`Recorder.pad` pads it
  back to a batch's length, :meth:`Recorder.collate` stacks samples into a batch;
- how the plain reference path reads the same tensors from an eager forward that
  returns every layer's attention and hidden states (:meth:`Recorder.eager`).

The defaults suit a token-major tensor (``[sequence, …]`` per sample, e.g. hidden
states); a recorder overrides what differs. A new kind of target (vision-encoder
features, say) is one file: a recorder and the signal kind that names it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Mapping, Sequence

import torch

from harness.signals.resolve import teacher_targets


class Tap(AbstractContextManager):
    """One recorder's part of one forward pass: enter it around the forward, then :meth:`read`.

    ``forward_kwargs`` are keyword arguments the forward must be given (e.g.
    ``output_hidden_states=True``); a tap with hooks installs them on ``__enter__`` and
    removes them on ``__exit__``.
    """

    forward_kwargs: dict[str, Any] = {}

    def __exit__(self, *exc) -> None:
        return None

    def read(self, outputs) -> dict[Any, torch.Tensor]:  # pragma: no cover - abstract
        """The captured tensors by layer (``[batch, …]`` each), after the forward ran."""
        raise NotImplementedError


class Recorder:
    """Base of the recorders (registered in ``RECORDERS``; a signal kind names one in ``needs``)."""

    #: Enters the teacher-cache key of every target it stores: bump it when what is stored changes.
    version: int = 1
    #: The axis of a (batched) target that indexes key tokens, if any: what a negative-control
    #: teacher permutes (:mod:`harness.signals.controls`). Attention maps: the last.
    key_axis: int | None = None

    def tap(self, loaded, layers: Sequence[int], *, grad: bool) -> Tap:  # pragma: no cover - abstract
        """What one forward of ``loaded`` needs so that :meth:`Tap.read` gives ``layers``' tensors.

        ``grad=False`` (teachers) may capture under ``no_grad``; students need gradients.
        """
        raise NotImplementedError

    def eager(self, outputs) -> dict[Any, torch.Tensor]:  # pragma: no cover - abstract
        """The same tensors read the obvious way from ``model(..., output_attentions=True,
        output_hidden_states=True)`` (the reference path, :mod:`harness.train.reference`)."""
        raise NotImplementedError

    # -- which tensors an objective compares -------------------------------------------

    def signals(self, taken: Mapping[Any, torch.Tensor], plan) -> list[torch.Tensor]:
        """The student's signals, one per student layer of ``plan``."""
        return [taken[layer] for layer in plan.student_layers]

    def targets(self, taken: Mapping[Any, torch.Tensor], plan) -> list[torch.Tensor]:
        """The teacher's targets, one per student layer: the mean of its teacher-layer group (detached)."""
        return teacher_targets(plan, taken)

    def width(self, loaded) -> int | None:
        """The size of the last dimension of this recorder's tensors for ``loaded``, when it is known
        before any forward and may differ between student and teacher (a loss with a learned
        projection, the hidden-state loss, is built from both); None otherwise."""
        return None

    def comparable(self, signal: torch.Tensor, target: torch.Tensor) -> bool:
        """Whether a student signal and a teacher target can be compared entry by entry."""
        return signal.shape == target.shape

    # -- how one sample's target is stored and read back -------------------------------

    def trim(self, target: torch.Tensor, length: int) -> torch.Tensor:
        """One sample's target (no batch dimension) cut to its ``length`` valid positions."""
        return target[:length]

    def length(self, stored: torch.Tensor) -> int:
        """The number of positions a trimmed target holds (checked against the student's sample)."""
        return int(stored.shape[0])

    def pad(self, stored: torch.Tensor, seq: int) -> torch.Tensor:
        """A trimmed target zero-padded back to a batch of length ``seq`` (right padding)."""
        n = stored.shape[0]
        if n == seq:
            return stored
        out = stored.new_zeros((seq, *stored.shape[1:]))
        out[:n] = stored
        return out

    def collate(self, stored: Sequence[torch.Tensor], seq: int) -> torch.Tensor:
        """Trimmed targets of a batch's samples, padded to ``seq`` and stacked (float32)."""
        return torch.stack([self.pad(t.float(), seq) for t in stored])
