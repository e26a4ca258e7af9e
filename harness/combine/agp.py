"""``agp``: asymmetric gradient projection, as Drive-KD's official code does it."""

from __future__ import annotations

import torch
from torch import Tensor

from harness.combine.base import Combiner, CombinerError, remove_conflict, unit
from harness.combine.shuffle import one_order
from harness.registry import COMBINERS, did_you_mean


def agp_stage1(gramian: Tensor, anchor: int, followers: list[int]) -> Tensor:
    """Rows of the followers after stage 1: each loses its conflict with the anchor.

    ``c' = c - (<c, s> / |s|^2) s`` when ``<c, s> < 0``; the anchor ``s`` itself
    is never touched (asymmetric), so afterwards ``<c', s> >= 0`` for every follower.
    """
    k = gramian.shape[0]
    s = unit(k, anchor)
    return torch.stack([remove_conflict(unit(k, c), s, gramian) for c in followers]) if followers else torch.zeros(0, k, dtype=torch.float64)


def agp_stage2(gramian: Tensor, merged: Tensor, order: list[int]) -> Tensor:
    """Rows ``t_i`` after the shuffled symmetric stage over the merged rows ``merged[i]``.

    Every ``t_i`` starts at ``m_i`` and, visiting the others in ``order``, loses its
    conflict with each ORIGINAL ``m_j`` (not with an already projected one).
    """
    out = merged.clone()
    for i in order:
        t = merged[i]
        for j in order:
            if j != i:
                t = remove_conflict(t, merged[j], gramian)
        out[i] = t
    return out


@COMBINERS.register("agp")
class AGP(Combiner):
    """AGP (Drive-KD): followers yield to the CE anchor, then shuffled projections among the merged.

    Stage 1: each follower (every objective but the anchor, ``ce`` by default)
    that conflicts with the anchor ``s`` is projected onto its normal plane; the
    anchor never changes. Merged ``m_c = s + c'``. Stage 2: in one random order
    (see :mod:`harness.combine.shuffle`), each ``t_i = m_i`` is projected off every
    other ORIGINAL ``m_j`` it conflicts with. Update ``sum_i t_i``: with n followers
    the anchor direction counts about n times, as in the official code.

    Options: ``stage1`` / ``stage2`` switch a stage off (stage 1 off: ``m_c = s + c``).
    ``anchor_once: true`` runs stage 2 on the ``c'`` themselves and adds ``s`` once:
    update ``s + sum_i t_i``; with both stages off that is the plain sum.
    With no follower at all the update is ``s``.
    """

    def __init__(self, anchor: str = "ce", stage1: bool = True, stage2: bool = True, anchor_once: bool = False):
        self.anchor = str(anchor)
        self.stage1 = bool(stage1)
        self.stage2 = bool(stage2)
        self.anchor_once = bool(anchor_once)

    def check_names(self, names: list[str]) -> None:
        if self.anchor not in names:
            raise CombinerError(
                f"combiner 'agp': anchor '{self.anchor}' is not an objective"
                f"{did_you_mean(self.anchor, names)} (objectives: {', '.join(names)})"
            )

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        k = len(names)
        a = names.index(self.anchor)
        followers = [i for i in range(k) if i != a]
        s = unit(k, a)
        if not followers:
            return s
        if self.stage1:
            c_rows = agp_stage1(gramian, a, followers)
        else:
            c_rows = torch.stack([unit(k, c) for c in followers])
        merged = c_rows if self.anchor_once else c_rows + s
        t_rows = agp_stage2(gramian, merged, one_order(len(followers), generator)) if self.stage2 else merged
        w = t_rows.sum(0)
        return w + s if self.anchor_once else w

    def __repr__(self) -> str:
        return (
            f"AGP(anchor={self.anchor!r}, stage1={self.stage1}, stage2={self.stage2}, anchor_once={self.anchor_once})"
        )
