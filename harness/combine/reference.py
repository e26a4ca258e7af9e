"""The combiners done the plain way: explicit projections on a K×D matrix of flattened gradients.

This is the one vector reference of every combiner. The combiners themselves
never touch a D-vector: they read every inner product off the K×K Gramian and
return K weights (:mod:`harness.combine.base`). The functions here do the same
math the obvious way, row by row on the gradients, as the papers and the
released code state it, so that the Gramian forms can be checked against them
(tests/combine/test_conformance.py and test_gramian_vs_vector.py) and the plain
reference step of a whole distillation step (:mod:`harness.train.reference`) can
use them. They are written for clarity, not speed.

Two things are shared with the combiners on purpose, because they are part of
each method's documented behaviour rather than of its implementation:

- the visiting orders, drawn from the step's generator through
  :mod:`harness.combine.shuffle` (so both forms project in the same order);
- the rule that a vector which is a tiny remainder of a large cancellation counts
  as zero (nothing is projected onto it; :data:`~harness.combine.base.NEGLIGIBLE_RTOL`).
  For that rule every vector carries its *budget*, ``sum_k |a_k| |g_k|`` over the
  original gradients it was formed from, updated alongside the vector arithmetic.
  An exactly zero vector is always negligible, so zero gradients give no NaN.

Every form takes ``(grads, names, generator)`` plus the combiner's options and
returns the update, a D-vector in float64. :func:`vector_form` builds one by
combiner name and options, as ``COMBINERS.build`` builds the combiner.
"""

from __future__ import annotations

import functools
import math
from itertools import combinations
from typing import Any, Callable

import torch
from torch import Tensor

from harness.combine.base import NEGLIGIBLE_RTOL
from harness.combine.gradvac import TARGET_LIMIT
from harness.combine.shuffle import one_order, orders_per_objective

#: ``(grads K×D, names, generator) -> update (D,)``
VectorForm = Callable[[Tensor, list[str], torch.Generator], Tensor]


def _rows(grads: Tensor) -> Tensor:
    return grads.detach().reshape(grads.shape[0], -1).to(torch.float64)


def usable_squared_norm(v: Tensor, budget: float) -> float | None:
    """``|v|^2``, or None when ``v`` is negligible: ``|v| <= NEGLIGIBLE_RTOL * budget`` (zero included)."""
    sq = float(v @ v)
    return sq if sq > (NEGLIGIBLE_RTOL * budget) ** 2 and sq > 0.0 else None


def remove_conflict(t: Tensor, m: Tensor, m_budget: float) -> tuple[Tensor, float]:
    """``t`` projected onto the normal plane of ``m`` when they conflict, and the coefficient used.

    ``t - (<t, m> / |m|^2) m`` if ``<t, m> < 0`` (PCGrad's rule, Yu et al. 2020,
    eq. 1; Drive-KD's stages 1 and 2); ``t`` itself (coefficient 0) when they do
    not conflict or ``m`` is negligible.
    """
    sq = usable_squared_norm(m, m_budget)
    if sq is None:
        return t, 0.0
    dot = float(t @ m)
    if dot < 0.0:
        coefficient = dot / sq
        return t - coefficient * m, coefficient
    return t, 0.0


def sum_vector(grads: Tensor, names: list[str], generator: torch.Generator | None = None, *,
               weights: dict[str, float] | None = None) -> Tensor:
    """``sum_k w_k g_k`` with ``w_k = weights[name_k]`` (1 when not given)."""
    g = _rows(grads)
    out = torch.zeros(g.shape[1], dtype=torch.float64)
    for k, name in enumerate(names):
        out = out + float((weights or {}).get(name, 1.0)) * g[k]
    return out


def pcgrad_vector(grads: Tensor, names: list[str], generator: torch.Generator, *, reduction: str = "sum") -> Tensor:
    """PCGrad (Yu et al. 2020, Algorithm 1): every gradient loses its conflicts with the ORIGINAL others.

    For each objective ``i`` (in turn 0, 1, …), starting from ``t_i = g_i`` and
    visiting the others in its own random order (:func:`orders_per_objective`:
    one ``randperm(K)`` per objective, ``i`` skipped): ``t_i <- t_i - (<t_i, g_j>
    / |g_j|^2) g_j`` whenever ``<t_i, g_j> < 0``. The update is ``sum_i t_i``, or
    their mean with ``reduction="mean"``.
    """
    g = _rows(grads)
    k = g.shape[0]
    orders = orders_per_objective(k, generator)
    update = torch.zeros(g.shape[1], dtype=torch.float64)
    for i in range(k):
        t = g[i].clone()
        for j in orders[i]:
            t, _ = remove_conflict(t, g[j], float(g[j].norm()))
        update = update + t
    return update / k if reduction == "mean" else update


def agp_vector(grads: Tensor, names: list[str], generator: torch.Generator, *, anchor: str = "ce",
               stage1: bool = True, stage2: bool = True, anchor_once: bool = False) -> Tensor:
    """AGP as Drive-KD's released trainer does it (facts §2), with the harness's options.

    ``s`` is the anchor's gradient (CE by default); every other objective is a
    follower ``c``.

    1. Stage 1, asymmetric: each follower that conflicts with ``s`` becomes
       ``c' = c - (<c, s> / |s|^2) s``; ``s`` is never changed. Merged ``m_c = s + c'``.
    2. Stage 2, shuffled symmetric: one random order of the followers
       (:func:`one_order`, one ``randperm(n)`` per step); for each follower ``i`` in
       that order, ``t_i`` starts at ``m_i`` and, visiting the others in the same
       order, loses its conflict with each ORIGINAL merged ``m_j``.
    3. The update is ``sum_i t_i``: the anchor counts once per follower, as in the
       released code.

    ``stage1=False`` merges the followers unprojected (``m_c = s + c``);
    ``stage2=False`` skips stage 2 (no order is drawn); ``anchor_once=True`` runs
    stage 2 on the ``c'`` themselves and adds ``s`` once at the end. With no
    follower the update is ``s``.
    """
    g = _rows(grads)
    a = names.index(anchor)
    s = g[a]
    s_norm = float(s.norm())
    followers = [i for i in range(g.shape[0]) if i != a]
    if not followers:
        return s.clone()
    cs, budgets = [], []
    for c in followers:
        coefficient = 0.0
        c_new = g[c].clone()
        if stage1:
            c_new, coefficient = remove_conflict(c_new, s, s_norm)
        cs.append(c_new)
        budgets.append(float(g[c].norm()) + abs(coefficient) * s_norm)
    if anchor_once:
        merged, merged_budgets = cs, budgets
    else:
        merged = [s + c for c in cs]
        merged_budgets = [b + s_norm for b in budgets]
    finished = list(merged)
    if stage2:
        order = one_order(len(followers), generator)
        for i in order:
            t = merged[i].clone()
            for j in order:
                if j != i:
                    t, _ = remove_conflict(t, merged[j], merged_budgets[j])
            finished[i] = t
    update = torch.stack(finished).sum(0)
    return update + s if anchor_once else update


def mgda_vector(grads: Tensor, names: list[str], generator: torch.Generator | None = None, *, scale: float = 1.0) -> Tensor:
    """MGDA (Désidéri 2012; Sener & Koltun 2018): the min-norm point of the gradients' convex hull, × ``scale``.

    Brute force on the vectors: for every support (every non-empty subset of the
    gradients) the point of its affine hull nearest the origin, by least squares
    on the differences ``g_j - g_r``; supports whose weights leave the simplex are
    dropped, and the shortest remaining point wins.
    """
    g = _rows(grads)
    k = g.shape[0]
    best, best_sq = None, math.inf
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            r, rest = support[0], list(support[1:])
            w = torch.zeros(k, dtype=torch.float64)
            if rest:
                diffs = (g[rest] - g[r]).T  # D × (m-1)
                beta = torch.linalg.lstsq(diffs, -g[r][:, None], rcond=1e-12, driver="gelsd").solution[:, 0]
                w[rest] = beta
                w[r] = 1.0 - beta.sum()
                if float(w.min()) < -1e-9:
                    continue
                w = w.clamp_min(0.0)
                w = w / w.sum()
            else:
                w[r] = 1.0
            point = w @ g
            sq = float(point @ point)
            if sq < best_sq:
                best, best_sq = point, sq
    return float(scale) * best


class GradVacVector:
    """GradVac (Wang et al. 2021) on explicit vectors; keeps its target cosines between calls, by name pair.

    Like PCGrad (same orders, against the original gradients), but for each
    ``j`` visited by ``i``, with ``rho = cos(t_i, g_j)`` and ``phi`` the pair's
    target: if ``rho < phi``, ``t_i += |t_i| (phi sqrt(1-rho^2) - rho sqrt(1-phi^2))
    / (|g_j| sqrt(1-phi^2)) g_j`` (the cosine becomes ``phi``); then ``phi <-
    (1-beta) phi + beta rho``, kept within ±0.99. Targets start at 0, so the first
    step is PCGrad's. A pair with a zero or negligible vector is skipped.
    """

    def __init__(self, beta: float = 0.01):
        self.beta = float(beta)
        self.targets: dict[tuple[str, str], float] = {}

    def __call__(self, grads: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        g = _rows(grads)
        k = g.shape[0]
        orders = orders_per_objective(k, generator)
        update = torch.zeros(g.shape[1], dtype=torch.float64)
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
                pair = (names[i], names[j])
                target = self.targets.get(pair, 0.0)
                room = math.sqrt(1.0 - target**2)
                if rho < target:
                    coefficient = t_norm * (target * math.sqrt(max(0.0, 1.0 - rho**2)) - rho * room) / (g_norm * room)
                    t = t + coefficient * g[j]
                    t_budget += abs(coefficient) * g_norm
                self.targets[pair] = max(-TARGET_LIMIT, min(TARGET_LIMIT, (1 - self.beta) * target + self.beta * rho))
            update = update + t
        return update


#: Combiner name -> factory of its vector form, taking the combiner's options.
VECTOR_FORMS: dict[str, Callable[..., VectorForm]] = {
    "sum": lambda **options: functools.partial(sum_vector, **options),
    "pcgrad": lambda **options: functools.partial(pcgrad_vector, **options),
    "agp": lambda **options: functools.partial(agp_vector, **options),
    "mgda": lambda **options: functools.partial(mgda_vector, **options),
    "gradvac": GradVacVector,  # stateful: a fresh one starts with no targets, like a fresh combiner
}

#: Registered combiners that have no vector form, each with the reason (the conformance test lists them).
WITHOUT_VECTOR_FORM: dict[str, str] = {}


def vector_form(name: str, **options: Any) -> VectorForm:
    """The vector form of the combiner ``name`` with ``options`` (a stateful one is fresh)."""
    if name not in VECTOR_FORMS:
        why = WITHOUT_VECTOR_FORM.get(name, "none is written in harness/combine/reference.py")
        raise ValueError(f"combiner '{name}' has no vector form: {why}")
    return VECTOR_FORMS[name](**options)
