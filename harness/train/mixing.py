"""The capability mixing matrix: how much each teacher objective counts for a sample.

Drive-KD scales each teacher's loss by the sample's capability: a perception
sample weights the perception teacher 0.8 and the others 0.1, and so on. With a
batch of mixed capabilities the factor is per sample, so the objective's loss is
the per-sample loss times the factor, averaged over the batch. Pure functions.
"""

from __future__ import annotations

from typing import Mapping

import torch

from harness.data.types import CAPABILITIES, DRIVEKD_MIXING

__all__ = ["DRIVEKD_MIXING", "mixing_factors", "mixed_mean"]


def mixing_factors(
    sample_capabilities: list[str],
    objective_capability: str | None,
    matrix: Mapping[str, Mapping[str, float]] | None = None,
) -> torch.Tensor:
    """Per-sample factors [B] for one objective.

    An objective whose capability is not one of the three (a free-named teacher) is not
    mixed: every factor is 1. A row or column the matrix leaves out counts as 1.
    """
    matrix = DRIVEKD_MIXING if matrix is None else matrix
    if objective_capability not in CAPABILITIES:
        return torch.ones(len(sample_capabilities))
    return torch.tensor(
        [float(matrix.get(cap, {}).get(objective_capability, 1.0)) for cap in sample_capabilities],
        dtype=torch.float32,
    )


def mixed_mean(per_sample_loss: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``loss_i × factor_i`` (the objective's scalar loss)."""
    if per_sample_loss.ndim != 1 or per_sample_loss.shape != factors.shape:
        raise ValueError(f"per-sample loss {tuple(per_sample_loss.shape)} and factors {tuple(factors.shape)} differ")
    return (per_sample_loss * factors.to(per_sample_loss)).mean()
