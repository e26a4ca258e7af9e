"""Each training sample's processor output, kept in memory so later epochs do not redo it.

Why: collating a sample (decoding its images, resizing them, running the family
processor, tokenising and finding the answer's tokens) gives the same tensors every
epoch, and on a CPU-bound run it is a quarter of a step (tiny zoo, 56 px, batch 16:
0.065 s of collation beside 0.18 s of forward, backward and update). A training loop
that collates in its own process keeps one :class:`EncodingMemo` per model and hands it
to :func:`harness.data.collate.collate_train`; a hit returns the very tensors a miss
would have made, so the batches, and every number computed from them, are unchanged.

The memo is bounded: once :data:`DEFAULT_MAX_BYTES` of tensors are held it stops adding
(no eviction), so a data set larger than the budget still gains on the part that fits
and host memory stays capped. DataLoader workers (``train.num_workers`` > 0) collate
off the critical path and are not given one.
"""

from __future__ import annotations

from typing import Any, Hashable

import torch

#: The in-process budget of one memo: 1 GiB holds about 25,000 tiny-zoo samples at 56 px,
#: or about 70 six-camera samples at 448 px.
DEFAULT_MAX_BYTES = 1 << 30


def encoding_bytes(value: Any) -> int:
    """The bytes of every tensor in ``value`` (nested dicts, lists and tuples)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(encoding_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(encoding_bytes(v) for v in value)
    return 0


class EncodingMemo:
    """A bounded map from a sample to its encoding, for one model's processor only."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes < 0:
            raise ValueError(f"EncodingMemo: max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._store: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: Hashable) -> Any | None:
        found = self._store.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Hashable, value: Any) -> bool:
        """Keep ``value`` for ``key`` if the budget allows; returns whether it was kept."""
        size = encoding_bytes(value)
        if key in self._store or self.bytes + size > self.max_bytes:
            return False
        self._store[key] = value
        self.bytes += size
        return True
