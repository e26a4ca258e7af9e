"""What happened between two log points: step time, throughput and how often objectives conflicted.

metrics.jsonl (and every tracker fed from it) gets one record per ``log_every``
steps; the combiner's diagnostics in that record describe only its last
combination. This window sees every step in between, so the share of steps with a
conflict, tokens per second and the mean step time cover all of them, not a
sample. Pure bookkeeping: the loop hands it numbers and records it already has.
"""

from __future__ import annotations

from dataclasses import dataclass


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
