"""Any combiner behind an online reweighting: it sees D G D and its weights are mapped back.

A reweighting (``reweighting: gradnorm`` in a recipe, :class:`harness.train.reweighting.Reweighting`)
learns multipliers m_k of the objectives' gradients from each Gramian; the inner
combiner then works on the Gramian of the multiplied gradients, D G D with
D = diag(m), and its weights w' on those become w = w' ⊙ m on the original ones.
Pure math on K×K tensors, like every combiner.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from harness.combine.base import Combiner


class Reweighted(Combiner):
    """``inner`` combiner behind ``reweighting``; the static proportions are the recipe's objective weights."""

    needs_gramian = True  # the multipliers come from the gradient norms
    wants_scales = True  # the engine hands over each objective's weight × mixing (base norms for drivekd_online)

    def __init__(self, inner: Combiner, reweighting: Any, proportions: dict[str, float]):
        self.inner = inner
        self.reweighting = reweighting
        self.proportions = dict(proportions)
        self.name = f"{inner.name}+{type(reweighting).__name__}"
        self.last_multipliers: Tensor | None = None
        self._scales: dict[str, float] | None = None

    def __call__(self, gramian: Tensor, names: list[str], generator: torch.Generator | None = None,
                 scales: dict[str, float] | None = None) -> Tensor:
        self._scales = scales
        try:
            return super().__call__(gramian, names, generator)
        finally:
            self._scales = None

    def end_step(self) -> None:
        """Once per optimizer step, before it (the engine's ``finish``): a per-step reweighting learns."""
        self.reweighting.end_step()

    def check_names(self, names: list[str]) -> None:
        self.inner.check_names(names)

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        m = self.reweighting.update(gramian, names, [self.proportions.get(n, 1.0) for n in names], scales=self._scales)
        self.last_multipliers = m
        return self.inner(self.reweighting.apply(gramian, m), names, generator) * m

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "reweighting": self.reweighting.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state.get("inner", {}))
        self.reweighting.load_state_dict(state.get("reweighting", {}))
