"""What the loop does when a micro-batch cannot be trained on: never silently.

Two kinds of failure: the accelerator runs out of memory (``oom``), or an
objective or the step's gradient is NaN/Inf (``nonfinite``). Drive-KD's released
trainer, on out-of-memory, returns a zero loss and drops the step's accumulated
gradients without saying so; here each failure either stops the run with a message
naming the samples, their sequence length and the step (the default), or, when the
recipe says ``skip`` (``train.on_oom`` / ``train.nan_policy``), skips that
micro-batch only, logs it to metrics.jsonl and counts it for run.json. Once more than
``train.max_skipped`` (a fraction of the run's planned micro-batches) are skipped,
the run stops: a run that trained on much less data than its recipe says is not the
run its recipe describes.

A non-finite *gradient* is only seen once the step's gradients are summed, so it
can only be traced to its step: under ``skip`` the whole step is dropped and its
micro-batches are counted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from harness.errors import HarnessError

log = logging.getLogger(__name__)

KINDS = ("oom", "nonfinite")


class TrainingFailure(HarnessError):
    """A micro-batch could not be trained on and the recipe says to stop (the message says where)."""


class NonFiniteObjective(TrainingFailure):
    """An objective or the gradient became NaN or Inf (the message names it and the step)."""


class OutOfMemory(TrainingFailure):
    """The accelerator ran out of memory on a micro-batch (the message names the samples and the step)."""


class TooManySkipped(TrainingFailure):
    """More micro-batches were skipped than ``train.max_skipped`` allows."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory error (CUDA, MPS, XPU) or a RuntimeError that says so."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Return cached blocks to the device after an out-of-memory error."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def where(samples: Sequence[Any], seq_len: int | None, step: int, micro: int) -> str:
    """'step 3, micro-batch 2, samples [a, b], sequence length 1712' (for messages)."""
    ids = ", ".join(str(getattr(s, "id", s)) for s in samples)
    length = f", sequence length {seq_len}" if seq_len is not None else ""
    return f"step {step}, micro-batch {micro}, samples [{ids}]{length}"


@dataclass
class FailurePolicy:
    """Stop or skip on each kind of failure, with a cap on how much may be skipped."""

    on_oom: str = "error"  # error | skip
    on_nonfinite: str = "error"  # error | skip
    max_skipped: float = 0.0  # fraction of planned micro-batches
    planned: int = 1  # micro-batches the run plans to train on (this rank)
    log: Callable[[dict[str, Any]], None] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})

    @property
    def skipped(self) -> int:
        return sum(self.counts.values())

    def limit(self) -> int:
        """The most micro-batches that may be skipped."""
        return int(math.floor(self.max_skipped * max(1, self.planned) + 1e-9))

    def failed(self, kind: str, message: str, *, step: int, micro_batches: int = 1) -> None:
        """Record a failure: raises under ``error`` (or past the cap), else counts and logs it."""
        policy = self.on_oom if kind == "oom" else self.on_nonfinite
        if policy != "skip":
            cls = OutOfMemory if kind == "oom" else NonFiniteObjective
            hint = "train.on_oom: skip" if kind == "oom" else "train.nan_policy: skip"
            raise cls(f"{message} (set {hint} to skip such micro-batches)")
        self.counts[kind] += micro_batches
        log.warning("skipped (%s): %s", kind, message)
        if self.log is not None:
            self.log({"step": step, "skipped": True, "kind": kind, "reason": message, "micro_batches": micro_batches})
        if self.skipped > self.limit():
            raise TooManySkipped(
                f"{self.skipped} of {self.planned} planned micro-batches skipped ({self.counts['oom']} out of memory, "
                f"{self.counts['nonfinite']} non-finite), more than train.max_skipped = {self.max_skipped}; last: {message}"
            )

    def summary(self) -> dict[str, int]:
        """For run.json: skipped micro-batches by kind."""
        return {**self.counts, "micro_batches": self.skipped, "planned_micro_batches": self.planned}

    def state_dict(self) -> dict[str, int]:
        return dict(self.counts)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.counts = {k: int(state.get(k, 0)) for k in KINDS}
