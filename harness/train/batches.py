"""Collated micro-batches of one epoch, decoded ahead of the loop by DataLoader workers.

Decoding the camera images and running the processor is CPU work that would
otherwise sit between GPU steps. :class:`MicroBatchStream` hands the loop each
micro-batch already collated (images decoded once; live teachers whose processor
agrees reuse the same batch), with ``train.num_workers`` processes working ahead
(0: collated in the loop's own process, where the loop's
:class:`~harness.data.encodings.EncodingMemo` spares later epochs the work).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch

from harness.data.collate import Batch, Collator
from harness.data.encodings import EncodingMemo
from harness.data.types import TrainSample


class MicroBatchStream:
    """``(samples, batch)`` pairs for a sequence of micro-batches, in order."""

    def __init__(self, student, micro_batches: Sequence[list[TrainSample]], *, num_workers: int = 0,
                 pin_memory: bool = False, memo: EncodingMemo | None = None):
        """``memo``: the student's encodings, used only when collating in this process (``num_workers`` 0)."""
        self.micro_batches = list(micro_batches)
        collate = Collator(student, memo=memo if not num_workers else None)
        loader = torch.utils.data.DataLoader(
            self.micro_batches, batch_size=None, shuffle=False, collate_fn=collate,
            num_workers=num_workers, prefetch_factor=2 if num_workers else None, pin_memory=pin_memory,
        )
        self._iter: Iterator[Batch] = iter(loader)
        self._index = 0

    def take(self, n: int) -> list[tuple[list[TrainSample], Batch]]:
        """The next ``n`` micro-batches (fewer at the end)."""
        out = []
        for _ in range(n):
            if self._index >= len(self.micro_batches):
                break
            samples = self.micro_batches[self._index]
            batch = next(self._iter)
            if batch.ids != [s.id for s in samples]:  # pragma: no cover - DataLoader keeps order
                raise RuntimeError("micro-batch stream out of order")
            out.append((samples, batch))
            self._index += 1
        return out
