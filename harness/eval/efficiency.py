"""Paper Table 1's efficiency columns: peak memory, decode tokens/s, first-token latency.

Measured during the evaluator's own generation, so they describe exactly the
batches that produced the predictions:

- peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` after a reset (what
  tensors needed); on CPU, the highest resident set size of this process sampled
  at every generation step (psutil) — the model, activations and KV cache all live
  in process memory there, so RSS is the honest counterpart.
- first-token latency: seconds from handing a batch to ``generate`` until the
  first logits exist (the prefill), averaged over batches.
- decode tokens/s: tokens generated after the first one, summed over the batch's
  rows, divided by the seconds between the first and the last step. Batch size is
  recorded next to it because throughput grows with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil
import torch


def device_name(device: torch.device) -> str:
    """``cpu`` or ``cuda:<index> (<GPU name>)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


class MemoryProbe:
    """Tracks the peak memory of one evaluation (CUDA counters, or sampled process RSS)."""

    def __init__(self, device: torch.device):
        self.device = device
        self._process = psutil.Process()
        self._peak_rss = 0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        self.sample()

    def sample(self) -> None:
        if self.device.type != "cuda":
            self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        self.sample()
        return self._peak_rss / 2**20


@dataclass
class BatchTiming:
    """One generate call: when the first logits came, when it ended, how many tokens."""

    rows: int
    prefill_seconds: float
    decode_seconds: float
    new_tokens: int  # summed over rows (each row up to and including its end token)


@dataclass
class EfficiencyMeter:
    """Accumulates batch timings into Table 1's numbers."""

    device: str
    batch_size: int
    batches: list[BatchTiming] = field(default_factory=list)

    def add(self, timing: BatchTiming) -> None:
        self.batches.append(timing)

    def summary(self, peak_memory_mb: float) -> dict:
        decode_tokens = sum(max(b.new_tokens - b.rows, 0) for b in self.batches)
        decode_seconds = sum(b.decode_seconds for b in self.batches)
        prefills = [b.prefill_seconds for b in self.batches]
        return {
            "device": self.device,
            "batch_size": self.batch_size,
            "peak_memory_mb": round(peak_memory_mb, 1),
            "tokens_per_second": round(decode_tokens / decode_seconds, 3) if decode_seconds > 0 else None,
            "first_token_latency_s": round(sum(prefills) / len(prefills), 4) if prefills else None,
            "decode_tokens": decode_tokens,
            "decode_seconds": round(decode_seconds, 4),
            "batches": len(self.batches),
        }

