"""Drive-KD's online loss reweighting, the rule its released trainer runs by default.

Why a second reweighting beside ``gradnorm``: the numbers in the paper come from a
trainer that turns this rule on unless told otherwise, and the two rules settle at
different weights on the same gradients. A comparison of AGP against the plain sum
made with one rule says little about the other (docs/combiners.md).

The rule, per optimizer step:

- Each objective k has a learned weight ``w_k = clamp(softplus(a_k) + eps, w_min, w_max)``;
  the anchor's (CE's) weight is kept at or above ``min_anchor``. ``a`` starts at
  ``softplus⁻¹(static weight)``, so the first step uses the recipe's weights.
- Every micro-batch contributes each objective's *base* gradient norm ``n_k``: the
  norm of the gradient of its loss before any weight or capability mixing (but
  after the 1/grad_accum loss scale). The step uses their mean over its micro-batches.
- One AdamW step (lr 3e-4, betas 0.9/0.99, no weight decay) on ``a`` minimises the L1
  loss ``Σ_k |w_k n_k − p_k Σ_j w_j n_j|`` (``p`` = the static weights as proportions;
  the target moves with ``w`` too).
- The weights are then rescaled to sum to the sum of the static weights (the number of
  objectives when every weight is 1), clamped again, the anchor floor re-applied, and
  written back into ``a`` through ``softplus⁻¹`` (without ``eps``).

Inside the harness the objectives' losses already carry ``static weight × mixing``, so
the combiner sees gradients ``s_k g_k`` with ``s_k`` the objective's *scale*. The
multiplier handed to the combiner is ``w_k / static_k`` (so the combined gradient
holds ``w_k × mixing × g_k`` as the released code does), and a base norm is read off
the Gramian as ``sqrt(G_kk) / s_k``. With one sample per micro-batch (the released
code's only mode) this is exact; with several samples of different capabilities the
scale is the batch's mean mixing factor, an approximation.

Pure math on K numbers (no model, no I/O); the state (``a``, the AdamW moments, the
norms gathered so far in the step) goes into checkpoints.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from harness.registry import REWEIGHTINGS
from harness.train.reweighting import Reweighting


def softplus_inverse(y: torch.Tensor) -> torch.Tensor:
    """``softplus⁻¹`` as the released code computes it (``expm1`` floored at 1e-20)."""
    return torch.log(torch.expm1(y).clamp_min(1e-20))


@REWEIGHTINGS.register("drivekd_online")
class DriveKDOnline(Reweighting):
    """Learned weights whose weighted base-gradient norms match the static proportions (L1, AdamW, per step)."""

    def __init__(
        self,
        lr: float = 3e-4,
        beta1: float = 0.9,
        beta2: float = 0.99,
        min_anchor: float = 0.6,
        anchor: str = "ce",
        eps: float = 1e-8,
        weight_min: float = 1e-6,
        weight_max: float = 1e6,
    ):
        if lr <= 0 or not (0 <= beta1 < 1) or not (0 <= beta2 < 1):
            raise ValueError("lr must be > 0 and the betas in [0, 1)")
        if not 0 < weight_min <= weight_max:
            raise ValueError("need 0 < weight_min <= weight_max")
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.min_anchor, self.anchor, self.eps = min_anchor, anchor, eps
        self.weight_min, self.weight_max = weight_min, weight_max
        self.names: list[str] = []
        self.static: torch.Tensor | None = None  # float32 [K]
        self.logits: torch.Tensor | None = None  # float32 [K], the a_k
        self.optimizer: torch.optim.Optimizer | None = None
        self.norm_sums: torch.Tensor | None = None  # float64 [K], this step's base norms
        self.norm_counts: torch.Tensor | None = None
        self.updates = 0

    # -- weights -------------------------------------------------------------------

    def _start(self, names: Sequence[str], proportions: Sequence[float]) -> None:
        self.names = list(names)
        self.static = torch.tensor([max(0.0, float(p)) for p in proportions], dtype=torch.float32)
        w0 = self.static.clamp(self.weight_min, self.weight_max)
        self.logits = softplus_inverse(w0).requires_grad_(True)
        self.optimizer = torch.optim.AdamW([self.logits], lr=self.lr, betas=(self.beta1, self.beta2),
                                           weight_decay=0.0, foreach=False)
        self._clear_norms()

    def _clear_norms(self) -> None:
        k = len(self.names)
        self.norm_sums = torch.zeros(k, dtype=torch.float64)
        self.norm_counts = torch.zeros(k, dtype=torch.float64)

    def _ensure(self, names: Sequence[str], proportions: Sequence[float]) -> None:
        if self.logits is None:
            self._start(names, proportions)
        elif list(names) != self.names:
            raise ValueError(f"drivekd_online: objectives changed from {self.names} to {list(names)}")

    def _weights(self, logits: torch.Tensor) -> torch.Tensor:
        """``w`` from ``a`` (differentiable): softplus + eps, clamped, anchor floor."""
        w = torch.clamp(F.softplus(logits) + self.eps, min=self.weight_min, max=self.weight_max)
        if self.anchor in self.names:  # torch.clamp, as the released code (its gradient convention at the floor)
            parts = list(w.unbind())
            i = self.names.index(self.anchor)
            parts[i] = torch.clamp(parts[i], min=self.min_anchor)
            w = torch.stack(parts)
        return w * (self.static > 0)  # an objective with static weight 0 is not trained on

    def weights(self) -> torch.Tensor:
        """The current weights ``w`` (float64), in the order of the objectives seen first."""
        with torch.no_grad():
            return self._weights(self.logits).to(torch.float64)

    # -- the Reweighting interface (harness.combine.reweighted.Reweighted calls it) -----------

    def update(self, gramian: torch.Tensor, names: Sequence[str], proportions: Sequence[float],
               scales: Mapping[str, float] | None = None) -> torch.Tensor:
        """Record this combination's base norms; return the multipliers ``w / static`` (no update here)."""
        self._ensure(names, proportions)
        diag = gramian.detach().to(torch.float64).diagonal().clamp_min(0)
        s = torch.tensor([float((scales or {}).get(n, p)) for n, p in zip(self.names, proportions)],
                         dtype=torch.float64)
        seen = s > 0
        base = torch.sqrt(torch.where(seen, diag / torch.where(seen, s, 1.0) ** 2, 0.0) + 1e-20)
        self.norm_sums += torch.where(seen, base, 0.0)
        self.norm_counts += seen.to(torch.float64)
        return self.multipliers()

    def multipliers(self) -> torch.Tensor:
        """What the combiner's gradients (already × static weight) are multiplied by."""
        static = self.static.to(torch.float64)
        return torch.where(static > 0, self.weights() / torch.where(static > 0, static, 1.0), 0.0)

    def end_step(self) -> torch.Tensor | None:  # type: ignore[override]
        """The once-per-optimizer-step update from the mean base norms; returns the new weights."""
        if self.logits is None or self.norm_counts is None or not bool((self.norm_counts > 0).any()):
            return None
        active = (self.norm_counts > 0) & (self.static > 0)
        means = torch.where(active, self.norm_sums / self.norm_counts.clamp_min(1), 0.0).to(torch.float32)
        self._clear_norms()
        if int(active.sum()) <= 1:
            return None
        new = step_weights(self, means, active)
        if new is not None:
            self.updates += 1
        return new

    def describe(self) -> dict[str, float]:
        """The current weights by objective (for metrics.jsonl)."""
        if self.logits is None:
            return {}
        return {n: float(w) for n, w in zip(self.names, self.weights())}

    # -- checkpoints --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self.logits is None:
            return {}
        return {
            "names": list(self.names),
            "static": self.static.clone(),
            "logits": self.logits.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "norm_sums": self.norm_sums.clone(),
            "norm_counts": self.norm_counts.clone(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self._start(state["names"], state["static"].tolist())
        with torch.no_grad():
            self.logits.copy_(state["logits"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.norm_sums = state["norm_sums"].clone()
        self.norm_counts = state["norm_counts"].clone()
        self.updates = int(state.get("updates", 0))


def step_weights(rw: DriveKDOnline, norms: torch.Tensor, active: torch.Tensor) -> torch.Tensor | None:
    """One AdamW step of ``rw``'s logits on the L1 share loss, then the renormalisation.

    ``norms``: float32 mean base-gradient norms; ``active``: the objectives taking part
    (seen this step, static weight > 0). Returns the new weights, or None when the
    weighted norms sum to zero (nothing to match).
    """
    w = rw._weights(rw.logits)
    weighted = w * norms * active
    total = weighted.sum()
    if float(total.detach()) <= 0.0:
        return None
    ratios = rw.static * active
    p = ratios / ratios.sum() if float(ratios.sum()) > 0 else active.to(torch.float32) / float(active.sum())
    loss = ((weighted - p * total).abs() * active).sum()
    rw.optimizer.zero_grad()
    loss.backward()
    rw.optimizer.step()
    with torch.no_grad():
        new = rw._weights(rw.logits)
        target_sum = float(ratios.sum()) if float(ratios.sum()) > 0 else float(active.sum())
        scale = target_sum / max(float((new * active).sum()), 1e-20)
        new = torch.where(active, (new * scale).clamp(rw.weight_min, rw.weight_max), new)
        if rw.anchor in rw.names:
            i = rw.names.index(rw.anchor)
            if bool(active[i]):
                new[i] = max(float(new[i]), rw.min_anchor)
        rw.logits.copy_(torch.where(active, softplus_inverse(new), rw.logits))
    return new.to(torch.float64)

