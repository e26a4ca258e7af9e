"""Online objective reweighting (Drive-KD's GradNorm-like option), from the Gramian.

Each objective k gets a learned multiplier m_k = softplus(a_k). The goal is that the
shares of the multiplied gradient norms, m_k‖g_k‖ / Σ_j m_j‖g_j‖, match the static
proportions p_k of the recipe's weights, so no objective drowns the others because
its raw gradients are large. The norms are the square roots of the Gramian's
diagonal, so this costs no extra backward. The anchor's (CE's) multiplier is kept at
or above ``min_anchor`` so the hard-label loss never fades out.

The multipliers act on the gradients before the combiner: the combiner sees the
Gramian D G D with D = diag(m), and its weights w' on the multiplied gradients
become weights w = w' ⊙ m on the original ones (:mod:`harness.combine.reweighted`
composes any reweighting with any combiner). Pure math on K×K tensors.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from harness.registry import REWEIGHTINGS


_CONVERGED = 1e-12  # gradient norm of the share error below which the shares are at their target


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class Reweighting:
    """Base of the online reweightings: multipliers m_k updated from each Gramian.

    :class:`harness.combine.reweighted.Reweighted` puts one in front of any combiner.
    """

    version: int = 1  # enters every run's identity

    def update(self, gramian: torch.Tensor, names: Sequence[str], proportions: Sequence[float],
               scales: Mapping[str, float] | None = None) -> torch.Tensor:
        """The multipliers for this combination; ``scales`` = each objective's weight × mixing, when known."""
        raise NotImplementedError  # pragma: no cover - abstract

    def end_step(self) -> None:
        """Once per optimizer step, before it (a rule that learns per step does so here)."""

    @staticmethod
    def apply(gramian: torch.Tensor, multipliers: torch.Tensor) -> torch.Tensor:
        """The Gramian of the multiplied gradients, D G D."""
        d = multipliers.to(gramian)
        return gramian * d[:, None] * d[None, :]

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@REWEIGHTINGS.register("gradnorm")
class GradNormReweighting(Reweighting):
    """Learned multipliers that keep the objectives' gradient-norm shares at their static proportions."""

    def __init__(self, lr: float = 0.05, min_anchor: float = 0.6, anchor: str = "ce", steps_per_update: int = 1):
        if lr <= 0:
            raise ValueError("lr must be > 0")
        self.lr = lr
        self.min_anchor = min_anchor
        self.anchor = anchor
        self.steps_per_update = steps_per_update
        self.logits: dict[str, float] = {}

    def multipliers(self, names: Sequence[str]) -> torch.Tensor:
        """Current m_k for ``names`` (1.0 for an objective seen for the first time)."""
        start = _inverse_softplus(1.0)
        a = torch.tensor([self.logits.get(n, start) for n in names], dtype=torch.float64)
        m = F.softplus(a)
        if self.anchor in names:
            i = list(names).index(self.anchor)
            m[i] = torch.clamp(m[i], min=self.min_anchor)
        return m

    def update(self, gramian: torch.Tensor, names: Sequence[str], proportions: Sequence[float],
               scales=None) -> torch.Tensor:
        """One gradient step on the logits toward the target shares; returns the new multipliers.

        ``scales`` (each objective's weight × mixing) is not used: this rule matches the
        shares of the weighted gradients themselves.
        """
        names = list(names)
        start = _inverse_softplus(1.0)
        a = torch.tensor([self.logits.get(n, start) for n in names], dtype=torch.float64, requires_grad=True)
        norms = gramian.detach().to(torch.float64).diagonal().clamp_min(0).sqrt()
        target = torch.tensor(list(proportions), dtype=torch.float64)
        if target.sum() <= 0 or norms.sum() <= 0:
            return self.multipliers(names)
        target = target / target.sum()
        for _ in range(self.steps_per_update):
            m = F.softplus(a)
            weighted = m * norms
            share = weighted / weighted.sum().clamp_min(torch.finfo(torch.float64).tiny)
            loss = ((share - target) ** 2).sum()
            (grad,) = torch.autograd.grad(loss, a)
            with torch.no_grad():
                # A normalised step has a fixed length, so a gradient that is only rounding
                # noise (shares already at the target) must not move the logits at all.
                if grad.norm() > _CONVERGED:
                    a -= self.lr * grad / grad.norm()
        self.logits.update({n: float(v) for n, v in zip(names, a.detach())})
        return self.multipliers(names)

    def state_dict(self) -> dict[str, Any]:
        return {"logits": dict(self.logits)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits = dict(state.get("logits", {}))
