"""Learning-rate schedules as plain multipliers of the base rate (warm-up included)."""

from __future__ import annotations

import math
from typing import Callable

import torch


def lr_multiplier(kind: str, total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """``step -> factor`` for ``constant``, ``linear`` (to 0) or ``cosine`` (to 0) decay."""
    total_steps = max(1, total_steps)
    warmup_steps = max(0, min(warmup_steps, total_steps))

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if kind == "constant":
            return 1.0
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        if kind == "linear":
            return max(0.0, 1.0 - progress)
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        raise ValueError(f"unknown schedule '{kind}'")

    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, kind: str, total_steps: int, warmup_ratio: float = 0.0):
    """A LambdaLR over :func:`lr_multiplier` (its state goes into checkpoints)."""
    warmup = int(round(warmup_ratio * total_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(kind, total_steps, warmup))
