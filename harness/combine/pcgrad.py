"""``pcgrad``: PCGrad (Yu et al., 2020), "gradient surgery" for multi-task learning."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from harness.combine.base import Combiner, remove_conflict, unit
from harness.combine.shuffle import orders_per_objective
from harness.registry import COMBINERS


def pcgrad_rows(gramian: Tensor, orders: list[list[int]]) -> Tensor:
    """Coefficient rows of the K projected gradients, given each objective's visiting order.

    Objective ``i`` starts from ``g_i`` and, for each ``j`` in ``orders[i]``,
    removes its component along the ORIGINAL ``g_j`` when they conflict.
    """
    k = gramian.shape[0]
    rows = torch.zeros(k, k, dtype=torch.float64)
    for i in range(k):
        t = unit(k, i)
        for j in orders[i]:
            t = remove_conflict(t, unit(k, j), gramian)
        rows[i] = t
    return rows


@COMBINERS.register("pcgrad")
class PCGrad(Combiner):
    """PCGrad: project each gradient off every other it conflicts with, in a shuffled order.

    For each objective i (visiting the others in a fresh random order per step):
    ``t_i <- t_i - (<t_i, g_j> / |g_j|^2) g_j`` whenever ``<t_i, g_j> < 0``,
    always against the original ``g_j``. The update is ``sum_i t_i``
    (``reduction: sum``) or their mean (``reduction: mean``).
    Shuffle: see :mod:`harness.combine.shuffle` (K permutations per step).
    """

    def __init__(self, reduction: Literal["sum", "mean"] = "sum"):
        if reduction not in ("sum", "mean"):
            raise ValueError(f"pcgrad: reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        k = len(names)
        rows = pcgrad_rows(gramian, orders_per_objective(k, generator))
        w = rows.sum(0)
        return w / k if self.reduction == "mean" else w

    def __repr__(self) -> str:
        return f"PCGrad(reduction={self.reduction!r})"
