"""Direct vector implementations of every combiner: explicit projections on K×P gradients.

These are the "plain path" the Gramian forms are checked against. They use the
P-dimensional vectors themselves for every inner product, norm and update. The
only thing they share with the package is the visiting order (replayed from the
same generator through harness.combine.shuffle) and the documented rule that a
vector which is a tiny remainder of a large cancellation counts as zero; for
that rule each vector carries its "budget" (sum of |coefficient| × |g_k| of the
originals it was formed from), tracked alongside the vector arithmetic.
"""

from __future__ import annotations

import math
from itertools import combinations

import torch
from torch import Tensor

from harness.combine.base import NEGLIGIBLE_RTOL


def usable_squared_norm(v: Tensor, budget: float) -> float | None:
    sq = float(v @ v)
    return sq if sq > (NEGLIGIBLE_RTOL * budget) ** 2 and sq > 0.0 else None


def project_vec(t: Tensor, m: Tensor, m_budget: float) -> tuple[Tensor, float]:
    """``t`` without its conflict with ``m``; also the coefficient used (0 when untouched)."""
    sq = usable_squared_norm(m, m_budget)
    if sq is None:
        return t, 0.0
    dot = float(t @ m)
    if dot < 0.0:
        coef = dot / sq
        return t - coef * m, coef
    return t, 0.0


def sum_vec(g: Tensor, weights: list[float] | None = None) -> Tensor:
    out = torch.zeros_like(g[0])
    for k in range(g.shape[0]):
        out = out + (1.0 if weights is None else weights[k]) * g[k]
    return out


def pcgrad_vec(g: Tensor, orders: list[list[int]], reduction: str = "sum") -> Tensor:
    k = g.shape[0]
    projected = []
    for i in range(k):
        t = g[i].clone()
        for j in orders[i]:
            t, _ = project_vec(t, g[j], float(g[j].norm()))
        projected.append(t)
    out = sum_vec(torch.stack(projected))
    return out / k if reduction == "mean" else out


def agp_stage1_vec(g: Tensor, anchor: int, followers: list[int]) -> tuple[list[Tensor], list[float]]:
    s = g[anchor]
    s_norm = float(s.norm())
    out, budgets = [], []
    for c in followers:
        c_new, coef = project_vec(g[c].clone(), s, s_norm)
        out.append(c_new)
        budgets.append(float(g[c].norm()) + abs(coef) * s_norm)
    return out, budgets


def agp_vec(
    g: Tensor,
    names: list[str],
    order: list[int] | None,
    anchor: str = "ce",
    stage1: bool = True,
    stage2: bool = True,
    anchor_once: bool = False,
) -> Tensor:
    a = names.index(anchor)
    s = g[a]
    followers = [i for i in range(g.shape[0]) if i != a]
    if not followers:
        return s.clone()
    if stage1:
        cs, budgets = agp_stage1_vec(g, a, followers)
    else:
        cs, budgets = [g[c].clone() for c in followers], [float(g[c].norm()) for c in followers]
    if anchor_once:
        merged, merged_budgets = cs, budgets
    else:
        merged = [s + c for c in cs]
        merged_budgets = [b + float(s.norm()) for b in budgets]
    if stage2:
        finished = list(merged)
        for i in order:
            t = merged[i].clone()
            for j in order:
                if j != i:
                    t, _ = project_vec(t, merged[j], merged_budgets[j])
            finished[i] = t
    else:
        finished = merged
    out = sum_vec(torch.stack(finished))
    return out + s if anchor_once else out


def mgda_vec(g: Tensor) -> Tensor:
    """Min-norm point of the convex hull: each support's affine minimiser by least squares on the vectors."""
    k = g.shape[0]
    best, best_sq = None, math.inf
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            r, rest = support[0], list(support[1:])
            w = torch.zeros(k, dtype=g.dtype)
            if rest:
                diffs = (g[rest] - g[r]).T  # P × (m-1)
                beta = torch.linalg.lstsq(diffs, -g[r][:, None], rcond=1e-12, driver="gelsd").solution[:, 0]
                w[rest] = beta
                w[r] = 1.0 - beta.sum()
                if float(w.min()) < -1e-9:
                    continue
                w = w.clamp_min(0.0)
                w = w / w.sum()
            else:
                w[r] = 1.0
            point = (w[:, None] * g).sum(0)
            sq = float(point @ point)
            if sq < best_sq:
                best, best_sq = point, sq
    return best


class GradVacVec:
    """GradVac with explicit vectors; keeps its own targets between calls."""

    def __init__(self, beta: float = 0.01):
        self.beta = beta
        self.targets: dict[tuple[int, int], float] = {}

    def __call__(self, g: Tensor, orders: list[list[int]]) -> Tensor:
        k = g.shape[0]
        adjusted = []
        for i in range(k):
            t = g[i].clone()
            t_budget = float(g[i].norm())
            for j in orders[i]:
                sq = usable_squared_norm(t, t_budget)
                g_norm = float(g[j].norm())
                if sq is None or g_norm == 0.0:
                    continue
                t_norm = math.sqrt(sq)
                rho = max(-1.0, min(1.0, float(t @ g[j]) / (t_norm * g_norm)))
                target = self.targets.get((i, j), 0.0)
                room = math.sqrt(1.0 - target**2)
                if rho < target:
                    coef = t_norm * (target * math.sqrt(max(0.0, 1.0 - rho**2)) - rho * room) / (g_norm * room)
                    t = t + coef * g[j]
                    t_budget += abs(coef) * g_norm
                self.targets[(i, j)] = max(-0.99, min(0.99, (1 - self.beta) * target + self.beta * rho))
            adjusted.append(t)
        return sum_vec(torch.stack(adjusted))
