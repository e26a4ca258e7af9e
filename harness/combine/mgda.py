"""``mgda``: the multiple-gradient descent algorithm's min-norm direction (Désidéri 2012; Sener & Koltun 2018).

The weights solve ``min |sum_k w_k g_k|^2`` over the simplex. Its optimality (KKT)
conditions, with ``d`` the min-norm point: ``<d, g_k> = |d|^2`` for every ``k`` with
``w_k > 0`` and ``<d, g_k> >= |d|^2`` for the others. The solver is exact and
scale-robust:

- It works on the *equilibrated* Gramian ``C = D^-1 G D^-1`` (cosines, unit
  diagonal; ``D = diag |g_k|``) with ``v_k = |g_k| w_k``. The KKT system of a support
  S becomes ``C_SS v - lam s = 0, s^T v = 1`` with ``s_k = 1/|g_k|`` scaled to a
  maximum of 1 on the support, and the weights are ``w_k = v_k s_k`` (normalised). Every quantity is of order
  one however far apart the gradients' norms are, so a weight of 1e-12 comes out
  with full relative precision instead of as ``1 - 0.999999999999``: with norms
  1e12 apart the old affine form (weights relative to the support's first
  objective) gave a direction opposing the larger objective, and which objective
  came first changed the answer.
- Supports are enumerated by size (up to 12 objectives); the first whose solution
  satisfies every KKT condition to a relative tolerance is the answer (the
  min-norm point is unique; a KKT point of this convex problem is optimal). Each
  condition is compared with the size of the terms it is made of, so the
  tolerance means the same at every scale. If rounding leaves no support within
  tolerance, the least-violating one is returned.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
from torch import Tensor

from harness.combine.base import Combiner, CombinerError
from harness.registry import COMBINERS

#: A support's KKT conditions hold when every violation is below this, relative to its terms.
KKT_RTOL = 1e-9
#: Relative singular-value cut-off of the small bordered solves (a singular C_SS is fine:
#: duplicated or opposite gradients give a consistent system with many solutions).
RCOND = 1e-13
#: The exact solver enumerates supports: 2^K - 1 of them.
MAX_OBJECTIVES = 12


def _support_solution(cos: np.ndarray, s: np.ndarray, support: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """(v over all K, the s it goes with, violation) for one support; violation 0: every KKT condition holds.

    The weights are ``v * s`` normalised; ``s`` is rescaled so its largest entry on
    the support is 1 (the conditions are homogeneous in that scale).
    """
    k = cos.shape[0]
    idx = list(support)
    m = len(idx)
    s = s / np.max(s[idx])  # scaled per support: the bordered system stays well conditioned
    system = np.zeros((m + 1, m + 1))
    system[:m, :m] = cos[np.ix_(idx, idx)]
    system[:m, m] = -s[idx]
    system[m, :m] = s[idx]
    rhs = np.zeros(m + 1)
    rhs[m] = 1.0
    x = np.linalg.lstsq(system, rhs, rcond=RCOND)[0]
    v = np.zeros(k)
    v[idx] = x[:m]
    lam = float(x[m])
    # size of the terms of each condition, so the tolerance is relative at any scale; lam
    # (|d|^2, scaled) is itself read off the support's rows, so its size is theirs
    terms = np.abs(cos) @ np.abs(v)
    lam_size = abs(lam) + float(np.min(terms[idx] / s[idx]))
    scale_rows = terms + lam_size * s
    residual = cos @ v - lam * s  # = (<d, g_j> - |d|^2) / |g_j|, up to one positive constant
    worst = 0.0
    # the system itself (it may be inconsistent when C_SS is singular)
    worst = max(worst, float(np.max(np.abs(residual[idx]) / np.maximum(scale_rows[idx], 1e-300))))
    worst = max(worst, abs(float(s[idx] @ x[:m]) - 1.0))
    worst = max(worst, float(np.max(-x[:m])) / max(float(np.abs(x[:m]).sum()), 1e-300))  # v >= 0
    outside = [j for j in range(k) if j not in support]
    if outside:
        worst = max(worst, float(np.max(-residual[outside] / np.maximum(scale_rows[outside], 1e-300))))
    return v, s, max(worst, 0.0)


def min_norm_weights(gramian: Tensor) -> Tensor:
    """The convex weights of the min-norm point of the gradients' convex hull (exact, any scales, any order).

    A zero gradient makes the min-norm point zero: its weight is 1. Otherwise supports
    are tried by size, on the equilibrated Gramian (see the module docstring).
    """
    g = gramian.detach().to(dtype=torch.float64).cpu().numpy()
    k = g.shape[0]
    diag = np.clip(np.diag(g), 0.0, None)
    w = np.zeros(k)
    if np.any(diag == 0.0):
        w[int(np.flatnonzero(diag == 0.0)[0])] = 1.0
        return torch.from_numpy(w)
    norms = np.sqrt(diag)
    cos = g / np.outer(norms, norms)
    s = (1.0 / norms) / np.max(1.0 / norms)
    best, best_violation = None, np.inf
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            v, scaled, violation = _support_solution(cos, s, support)
            if violation < best_violation:
                best, best_violation = (v, scaled), violation
            if violation <= KKT_RTOL:
                return _weights(v, scaled)
    return _weights(*best)


def _weights(v: np.ndarray, s: np.ndarray) -> Tensor:
    w = np.clip(v, 0.0, None) * s
    return torch.from_numpy(w / w.sum())


@COMBINERS.register("mgda")
class MGDA(Combiner):
    """MGDA: the min-norm point of the gradients' convex hull, a direction no objective opposes.

    ``w = argmin_{w >= 0, sum w = 1} |sum_k w_k g_k|^2``, solved exactly on the
    equilibrated Gramian by enumerating supports (up to 12 objectives), so the
    result satisfies its optimality conditions whatever the gradients' scales and order. When the result is
    zero the point is Pareto-stationary and the step is zero. The weights sum to
    1 (the update is an average, not a sum); ``scale`` multiplies them, e.g.
    ``scale: 4`` for a step of the size of a 4-objective sum.
    """

    def __init__(self, scale: float = 1.0):
        self.scale = float(scale)

    def check_names(self, names: list[str]) -> None:
        if len(names) > MAX_OBJECTIVES:
            raise CombinerError(f"combiner 'mgda': supports at most {MAX_OBJECTIVES} objectives, got {len(names)}")

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        return self.scale * min_norm_weights(gramian)

    def __repr__(self) -> str:
        return f"MGDA(scale={self.scale})"
