"""``gradvac``: Gradient Vaccine (Wang et al., 2021), PCGrad with learned target similarities."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from harness.combine.base import Combiner, budget, inner, unit, NEGLIGIBLE_RTOL
from harness.combine.shuffle import orders_per_objective
from harness.registry import COMBINERS

#: Targets are kept within [-0.99, 0.99]. Reaching a cosine of ±1 by adding a multiple
#: of g_j is impossible (the formula divides by sqrt(1 - target^2)), and near ±1 the
#: adjustment amplifies the rounding of the cosine (~1e-8 near |rho| = 1) by
#: 1/sqrt(1 - target^2); at 0.99 that factor is 7, so results stay reproducible.
TARGET_LIMIT = 0.99


def _norm_if_usable(a: Tensor, gramian: Tensor) -> float | None:
    sq = inner(a, a, gramian)
    if not sq > (NEGLIGIBLE_RTOL * budget(a, gramian)) ** 2:
        return None
    return math.sqrt(sq)


def gradvac_rows(gramian: Tensor, orders: list[list[int]], targets: dict[tuple[int, int], float], beta: float) -> Tensor:
    """Coefficient rows of the adjusted gradients; updates ``targets`` (EMA of similarities) in place.

    For objective i and each j in ``orders[i]``: ``rho = cos(t_i, g_j)``; if
    ``rho < target_ij`` then ``t_i += |t_i| (target sqrt(1-rho^2) - rho sqrt(1-target^2))
    / (|g_j| sqrt(1-target^2)) g_j`` (which makes the cosine exactly the target);
    then ``target_ij <- (1-beta) target_ij + beta rho``, kept within ±TARGET_LIMIT. A pair whose cosine is
    undefined (a zero or negligible vector) is skipped and its target kept.
    """
    k = gramian.shape[0]
    rows = torch.zeros(k, k, dtype=torch.float64)
    for i in range(k):
        t = unit(k, i)
        for j in orders[i]:
            norm_t = _norm_if_usable(t, gramian)
            gjj = float(gramian[j, j])
            norm_g = math.sqrt(gjj) if gjj > 0.0 else None
            if norm_t is None or norm_g is None:
                continue
            rho = max(-1.0, min(1.0, inner(t, unit(k, j), gramian) / (norm_t * norm_g)))
            target = targets.get((i, j), 0.0)
            room = math.sqrt(1.0 - target * target)
            if rho < target:
                coef = norm_t * (target * math.sqrt(max(0.0, 1.0 - rho * rho)) - rho * room) / (norm_g * room)
                t = t + coef * unit(k, j)
            targets[(i, j)] = max(-TARGET_LIMIT, min(TARGET_LIMIT, (1.0 - beta) * target + beta * rho))
        rows[i] = t
    return rows


@COMBINERS.register("gradvac")
class GradVac(Combiner):
    """GradVac: raise each pair's gradient cosine to a running target instead of only to zero.

    Like PCGrad (same shuffled visiting order, against the original gradients), but
    the target cosine of each ordered pair (i, j) is an exponential moving average
    (rate ``beta``) of the cosines seen so far, starting at 0 and kept within ±0.99,
    and a gradient whose
    cosine falls below the target gets just enough of ``g_j`` added to reach it.
    The update is the sum. Stateful: the targets are kept by objective names and
    saved with :meth:`state_dict`.
    """

    def __init__(self, beta: float = 0.01):
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"gradvac: beta must lie in [0, 1], got {beta!r}")
        self.beta = float(beta)
        self.targets: dict[tuple[str, str], float] = {}

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        k = len(names)
        by_index = {(i, j): self.targets[(names[i], names[j])] for i in range(k) for j in range(k) if (names[i], names[j]) in self.targets}
        rows = gradvac_rows(gramian, orders_per_objective(k, generator), by_index, self.beta)
        for (i, j), value in by_index.items():
            self.targets[(names[i], names[j])] = value
        return rows.sum(0)

    def state_dict(self) -> dict:
        return {"targets": [[a, b, v] for (a, b), v in sorted(self.targets.items())]}

    def load_state_dict(self, state: dict) -> None:
        self.targets = {(str(a), str(b)): float(v) for a, b, v in state.get("targets", [])}

    def __repr__(self) -> str:
        return f"GradVac(beta={self.beta})"
