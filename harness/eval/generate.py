"""Batched greedy generation over evaluation items, with per-batch timing.

Prompts are left-padded (every row ends where generation starts) and decoded
greedily with the KV cache, so the same model and items give the same text on
CPU, bit for bit. A logits processor that changes nothing records the clock at
every step: its first call happens right after the prefill, which splits the
first-token latency from the decode time without a second forward pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from harness.data.collate import collate_generation
from harness.data.types import EvalItem
from harness.devices import model_device
from harness.eval.efficiency import BatchTiming, EfficiencyMeter, MemoryProbe
from harness.eval.prompts import build_prompt


@dataclass(frozen=True)
class Generation:
    """One item's generated answer and what it cost."""

    item_id: str
    prompt: str
    prediction: str
    n_new_tokens: int
    seconds: float  # the item's share of its batch's generate call
    first_token_s: float  # its batch's prefill time
    batch: int


class _StepClock:
    """A pass-through logits processor that timestamps each decoding step and samples memory."""

    def __init__(self, memory: MemoryProbe | None):
        self.times: list[float] = []
        self.memory = memory

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        self.times.append(time.perf_counter())
        if self.memory is not None:
            self.memory.sample()
        return scores


def _new_token_rows(sequences: torch.Tensor, prompt_len: int, eos_ids: set[int]) -> list[list[int]]:
    """Each row's generated tokens, cut after its first end token (the rest is padding)."""
    rows = []
    for row in sequences[:, prompt_len:].tolist():
        cut = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
        rows.append(row[:cut])
    return rows


def _eos_ids(loaded) -> set[int]:
    ids = loaded.model.generation_config.eos_token_id
    if ids is None:
        ids = loaded.tokenizer.eos_token_id
    return set(ids if isinstance(ids, (list, tuple)) else [ids])


def generate_answers(
    loaded,
    items: Sequence[EvalItem],
    *,
    brief: str = "",
    batch_size: int = 8,
    max_new_tokens: int = 64,
    meter: EfficiencyMeter | None = None,
    memory: MemoryProbe | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[Generation]:
    """Greedy answers for ``items`` in their order, ``batch_size`` prompts at a time."""
    from transformers import LogitsProcessorList

    model = loaded.model
    model.eval()
    device = model_device(model)
    pixel_dtype = next(model.parameters()).dtype
    eos_ids = _eos_ids(loaded)
    pad_id = loaded.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = next(iter(eos_ids))
    out: list[Generation] = []
    for batch_index, start in enumerate(range(0, len(items), batch_size)):
        chunk = list(items[start:start + batch_size])
        prompts = [build_prompt(item, brief) for item in chunk]
        batch = collate_generation(
            loaded, [list(item.cameras.values()) for item in chunk], prompts,
            ids=[item.id for item in chunk], capabilities=[item.capability for item in chunk],
        ).to(device, dtype=pixel_dtype)
        clock = _StepClock(memory)
        began = time.perf_counter()
        with torch.inference_mode():
            sequences = model.generate(
                **batch.inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                use_cache=True, pad_token_id=pad_id, logits_processor=LogitsProcessorList([clock]),
            )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ended = time.perf_counter()
        rows = _new_token_rows(sequences, batch.input_ids.shape[1], eos_ids)
        texts = loaded.tokenizer.batch_decode(rows, skip_special_tokens=True)
        first = (clock.times[0] if clock.times else ended) - began
        timing = BatchTiming(rows=len(chunk), prefill_seconds=first,
                             decode_seconds=max(ended - began - first, 0.0),
                             new_tokens=sum(len(r) for r in rows))
        if meter is not None:
            meter.add(timing)
        share = (ended - began) / len(chunk)
        for item, prompt, text, row in zip(chunk, prompts, texts, rows):
            out.append(Generation(item.id, prompt, text.strip(), len(row), round(share, 4), round(first, 4),
                                  batch_index))
        if on_batch is not None:
            on_batch(len(chunk))
    return out
