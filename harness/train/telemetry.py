"""What happened between two log points: step time, throughput and how often objectives conflicted.

metrics.jsonl (and every tracker fed from it) gets one record per ``log_every``
steps; the combiner's diagnostics in that record describe only its last
combination. This window sees every step in between, so the share of steps with a
conflict, tokens per second and the mean step time cover all of them, not a
sample. Pure bookkeeping: the loop hands it numbers and records it already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch


# The record fields that measure wall time: the only ones two runs of one recipe and
# seed may disagree on (a resumed run's metrics equal an uninterrupted run's but these).
WALL_CLOCK_FIELDS = ("step_seconds", "tokens_per_s")


@dataclass
class StepWindow:
    """Steps since the last log point (reset by :meth:`flush`)."""

    steps: int = 0
    seconds: float = 0.0
    tokens: int = 0
    combined: int = 0  # steps whose combinations came with a Gramian
    conflicted: int = 0  # ... of which at least one combination had a conflicting pair

    def add(self, *, seconds: float, tokens: int, diagnostics: list[dict]) -> None:
        """One optimizer step: its wall time, the tokens it trained on, its combinations' diagnostics."""
        self.steps += 1
        self.seconds += seconds
        self.tokens += tokens
        if any("conflicts" in d for d in diagnostics):
            self.combined += 1
            self.conflicted += any(d.get("conflicts", 0) > 0 for d in diagnostics)

    def flush(self) -> dict[str, float]:
        """The window as metrics-record fields (none when no step was added), then empty it."""
        out: dict[str, float] = {}
        if self.steps:
            out["step_seconds"] = self.seconds / self.steps
            out["tokens_per_s"] = self.tokens / self.seconds if self.seconds > 0 else 0.0
        if self.combined:
            out["conflict_share"] = self.conflicted / self.combined
        self.steps, self.seconds, self.tokens, self.combined, self.conflicted = 0, 0.0, 0, 0, 0
        return out


def objective_gradient_norms(losses: Mapping[str, torch.Tensor], params: Sequence[torch.Tensor]) -> dict[str, float]:
    """Each objective's gradient norm over ``params``, for the single-backward (``sum``) path that never forms them.

    One ``autograd.grad`` per objective that keeps the graph, so the step's own backward
    afterwards computes exactly the update it would have (``.grad`` is not touched here).
    Costs one backward per objective; the loop calls it only at the steps
    ``train.grad_norms_every`` names. The norms are those of the losses as the engine
    receives them (weight × mixing, × 1/grad_accum with ``accum_reduction: mean``), like
    the Gramian path's ``combine.grad_norms``.
    """
    out: dict[str, float] = {}
    for name, loss in losses.items():
        if not loss.requires_grad:
            out[name] = 0.0
            continue
        grads = torch.autograd.grad(loss, list(params), retain_graph=True, allow_unused=True)
        squares = [g.detach().double().pow(2).sum() for g in grads if g is not None]
        out[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return out


def measures_norms(step: int, every: int, total_steps: int, log_every: int) -> bool:
    """Whether optimizer step ``step`` (1-based) measures each objective's gradient norm: a log step
    (every ``log_every`` steps, and the last) that is a multiple of ``every`` (0: never)."""
    if every <= 0:
        return False
    logged = step % log_every == 0 or step == total_steps
    return logged and step % every == 0
