"""``sum``: the plain (optionally weighted) sum of the objectives' gradients."""

from __future__ import annotations

import torch
from torch import Tensor

from harness.combine.base import Combiner, CombinerError
from harness.registry import COMBINERS, did_you_mean


@COMBINERS.register("sum")
class Sum(Combiner):
    """Plain sum of the objective gradients, with optional static weights per objective.

    The update is ``sum_k w_k g_k`` with ``w_k = weights[name_k]`` (1.0 when not
    given). Loss weights and capability mixing are already applied to the losses
    before the gradients, so a recipe rarely needs ``weights`` here; it exists for
    experiments that reweight at the gradient level. The weights ignore the
    Gramian, so the gradient engine does a single backward of ``sum_k w_k L_k``.
    """

    needs_gramian = False

    def __init__(self, weights: dict[str, float] | None = None):
        self.static = {str(k): float(v) for k, v in (weights or {}).items()}

    def check_names(self, names: list[str]) -> None:
        for key in self.static:
            if key not in names:
                raise CombinerError(
                    f"combiner 'sum': weights name '{key}', which is not an objective"
                    f"{did_you_mean(key, names)} (objectives: {', '.join(names)})"
                )

    def static_weights(self, names: list[str]) -> Tensor:
        """The weights for ``names`` (no Gramian needed)."""
        self.check_names(list(names))
        return torch.tensor([self.static.get(n, 1.0) for n in names], dtype=torch.float64)

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        return self.static_weights(names)

    def __repr__(self) -> str:
        return f"Sum(weights={self.static or None})"
