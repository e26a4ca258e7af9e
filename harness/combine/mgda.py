"""``mgda``: the multiple-gradient descent algorithm's min-norm direction (Désidéri 2012; Sener & Koltun 2018)."""

from __future__ import annotations

import math
from itertools import combinations

import torch
from torch import Tensor

from harness.combine.base import Combiner, CombinerError
from harness.registry import COMBINERS

#: Weights more negative than this (they live on the simplex, so they are unitless) mean
#: the affine minimiser of a support lies outside the simplex.
FEASIBILITY_TOL = 1e-9
#: Relative singular-value cut-off of the small least-squares solves.
RCOND = 1e-12
#: The exact solver enumerates supports: 2^K - 1 of them.
MAX_OBJECTIVES = 12


def affine_min_weights(gramian: Tensor, support: tuple[int, ...]) -> Tensor | None:
    """Weights minimising ``|sum w_k g_k|`` over the affine hull of ``support``; None if not all >= 0.

    With ``r`` the first index of the support and ``O`` the rest, the point is
    ``g_r + sum_o beta_o (g_o - g_r)``; its squared norm is a quadratic in beta whose
    matrix ``H`` and vector ``b`` come from the Gramian.
    """
    k = gramian.shape[0]
    w = torch.zeros(k, dtype=torch.float64)
    r, rest = support[0], list(support[1:])
    if not rest:
        w[r] = 1.0
        return w
    g_or = gramian[rest, r]
    h = gramian[rest][:, rest] - g_or[:, None] - g_or[None, :] + gramian[r, r]
    b = g_or - gramian[r, r]
    beta = torch.linalg.lstsq(h, -b[:, None], rcond=RCOND, driver="gelsd").solution[:, 0]
    w[rest] = beta
    w[r] = 1.0 - beta.sum()
    if float(w.min()) < -FEASIBILITY_TOL:
        return None
    w = w.clamp_min(0.0)
    return w / w.sum()


def min_norm_weights(gramian: Tensor) -> Tensor:
    """The convex weights of the min-norm point of the gradients' convex hull (exact, by support enumeration).

    The min-norm point is unique; the optimal weights have a support on which the
    affine minimiser is itself convex, so trying every support and keeping the
    feasible one of least norm finds it. Ties keep the smallest support found first.
    """
    k = gramian.shape[0]
    best, best_sq = None, math.inf
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            w = affine_min_weights(gramian, support)
            if w is None:
                continue
            sq = float(w @ gramian @ w)
            if sq < best_sq:
                best, best_sq = w, sq
    return best


@COMBINERS.register("mgda")
class MGDA(Combiner):
    """MGDA: the min-norm point of the gradients' convex hull, a direction no objective opposes.

    ``w = argmin_{w >= 0, sum w = 1} |sum_k w_k g_k|^2``, solved exactly on the
    Gramian by enumerating supports (up to 12 objectives). When the result is
    zero the point is Pareto-stationary and the step is zero. The weights sum to
    1 (the update is an average, not a sum); ``scale`` multiplies them, e.g.
    ``scale: 4`` for a step of the size of a 4-objective sum.
    """

    name = "mgda"

    def __init__(self, scale: float = 1.0):
        self.scale = float(scale)

    def check_names(self, names: list[str]) -> None:
        if len(names) > MAX_OBJECTIVES:
            raise CombinerError(f"combiner 'mgda': supports at most {MAX_OBJECTIVES} objectives, got {len(names)}")

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        return self.scale * min_norm_weights(gramian)

    def __repr__(self) -> str:
        return f"MGDA(scale={self.scale})"
