"""Supervised fine-tuning of tiny-zoo teachers, cached by content.

Tiny-zoo models start untrained; a teacher that knows nothing teaches nothing. A
recipe's ``sft:`` block on a teacher fine-tunes it on the training split (plain
CE on the answer tokens) before it teaches. The result is an ordinary HF folder
under ``<cache>/teachers/<hash>/``, keyed by the base weights, the data, the SFT
settings and the seed, so every run and sweep trial with the same teacher reuses
it. Building happens in a temporary folder renamed into place, under a lock.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from harness.data.collate import collate_train
from harness.data.types import TrainSample
from harness.paths import cache_dir
from harness.rundir import atomic_folder
from harness.train.identity import digest, model_identity, samples_identity
from harness.train.loop import epoch_order
from harness.train.target_store import BuildLock


def sft_key(teacher, samples: Sequence[TrainSample], sft_spec, seed: int) -> str:
    return digest({
        "base": model_identity(teacher),
        "data": samples_identity(samples),
        "sft": sft_spec.model_dump(),
        "seed": seed,
        "version": "sft-v1",
    })


def fine_tune(loaded, samples: Sequence[TrainSample], sft_spec, seed: int, *, progress: bool = True) -> dict[str, float]:
    """Train ``loaded.model`` in place with CE; returns the first and last epoch's mean loss."""
    torch.manual_seed(seed)
    model = loaded.model
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=sft_spec.lr)
    per_epoch = math.ceil(len(samples) / sft_spec.batch_size)
    total = per_epoch * sft_spec.epochs
    if sft_spec.max_steps:
        total = min(total, sft_spec.max_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1.0 - s / max(1, total)))
    bar = tqdm(total=total, desc=f"SFT {loaded.name}", unit="step", disable=not progress)
    step, losses = 0, {"first": float("nan"), "last": float("nan")}
    running: list[float] = []
    while step < total:
        epoch, in_epoch = divmod(step, per_epoch)
        order = epoch_order(len(samples), seed, epoch)
        chunk = order[in_epoch * sft_spec.batch_size : (in_epoch + 1) * sft_spec.batch_size]
        batch = collate_train([samples[i] for i in chunk], loaded)
        out = model(**batch.model_inputs(with_labels=True))
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        running.append(float(out.loss.detach()))
        if step == min(per_epoch, total):
            losses["first"] = sum(running) / len(running)
        bar.update(1)
        bar.set_postfix(loss=f"{running[-1]:.3f}")
    bar.close()
    tail = running[-min(len(running), per_epoch):]
    losses["last"] = sum(tail) / max(1, len(tail))
    model.eval()
    return losses


def ensure_sft_teacher(loaded, samples: Sequence[TrainSample], sft_spec, seed: int, *, progress: bool = True) -> Path:
    """The folder of ``loaded`` fine-tuned on ``samples`` (built once per content key)."""
    key = sft_key(loaded, samples, sft_spec, seed)
    root = cache_dir() / "teachers"
    final = root / key[:24]
    if (final / "config.json").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with BuildLock(root / f"build-{key[:24]}"):
        if (final / "config.json").exists():
            return final
        losses = fine_tune(loaded, samples, sft_spec, seed, progress=progress)
        with atomic_folder(final, replace=False) as tmp:
            loaded.model.save_pretrained(tmp)
            loaded.processor.save_pretrained(tmp)
            (tmp / "sft.json").write_text(digest_note(loaded, sft_spec, seed, losses))
    return final


def digest_note(loaded, sft_spec, seed: int, losses: dict[str, float]) -> str:
    import json

    return json.dumps({"base": loaded.name, "sft": sft_spec.model_dump(), "seed": seed, "loss": losses}, indent=2)
