"""The public entry points: build a combiner by name, and combine explicit gradients."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from harness.combine.base import Combiner
from harness.registry import COMBINERS


def build_combiner(name: str, **options: Any) -> Combiner:
    """The registered combiner ``name`` with ``options`` (for notebooks: ``COMBINERS.build`` by keywords)."""
    return COMBINERS.build({"name": name, **options}, field="combiner")


def gramian(grads: Tensor) -> Tensor:
    """``G = J J^T`` in float64 for a K×P matrix of gradients ``J``."""
    j = grads.detach().reshape(grads.shape[0], -1).to(torch.float64)
    return j @ j.T


def aggregate(
    grads: Tensor,
    names: list[str],
    combiner: str | Combiner,
    generator: torch.Generator | None = None,
    **options: Any,
) -> Tensor:
    """Combine K explicit gradients (rows of a K×P tensor) into one P-vector.

    ``combiner`` is a registered name (then ``options`` are its options) or a
    combiner instance (stateful combiners keep their state across calls). The
    weights come from the float64 Gramian; the result ``sum_k w_k g_k`` is formed
    in float64 and returned in ``grads``' dtype. Without a generator a fresh one
    seeded 0 is used, so the call is deterministic.
    """
    if grads.dim() != 2 or grads.shape[0] != len(names):
        raise ValueError(f"aggregate: grads must be K×P with K = len(names) = {len(names)}, got shape {tuple(grads.shape)}")
    if isinstance(combiner, str):
        combiner = build_combiner(combiner, **options)
    elif options:
        raise ValueError("aggregate: options are only accepted with a combiner name, not an instance")
    j = grads.detach().to(torch.float64)
    weights = combiner(j @ j.T, list(names), generator)
    return (weights.to(j.device) @ j).to(grads.dtype)
