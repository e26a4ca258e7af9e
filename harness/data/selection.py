"""Choosing which training samples a run trains on (``data.train.capabilities``).

Table 3's single-teacher rows of Drive-KD were trained on one capability's split
only; any subset of perception / reasoning / planning can be asked for. Names are
validated by the recipe schema; an empty result is a one-line error.
"""

from __future__ import annotations

from typing import Sequence

from harness.data.errors import DataError
from harness.data.types import TrainSample


def by_capability(samples: Sequence[TrainSample], capabilities: Sequence[str] | None,
                  field: str = "data.train.capabilities") -> list[TrainSample]:
    """The samples whose capability is one of ``capabilities`` (all of them when None)."""
    if capabilities is None:
        return list(samples)
    wanted = set(capabilities)
    kept = [s for s in samples if s.capability in wanted]
    if not kept:
        present = sorted({s.capability for s in samples})
        raise DataError(f"{field}: no training sample has capability {', '.join(capabilities)} "
                        f"(the data has {', '.join(present) or 'none'})")
    return kept
