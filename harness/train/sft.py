"""Supervised fine-tuning of tiny-zoo teachers (and students), cached by content.

Tiny-zoo models start untrained; a teacher that knows nothing teaches nothing. A
recipe's ``sft:`` block on a teacher fine-tunes it on the training split (plain
CE on the answer tokens) before it teaches; on the student it stands in for the
pretraining a real student already has. The result is an ordinary HF folder
under ``<cache>/sft/<hash>/``, keyed by the base weights, the data, the SFT
settings and the seed, so every run and sweep trial with the same model reuses
it. Building happens in a temporary folder renamed into place, under a lock; the
folder's checksums are checked on every use and a damaged one is rebuilt.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from harness.data.collate import collate_train
from harness.data.encodings import EncodingMemo
from harness.data.types import TrainSample
from harness.devices import model_device
from harness.errors import HarnessError
from harness.files import atomic_folder
from harness.integrity import content_hash, is_intact, remove_stale_builds, write_checksums
from harness.locks import BuildLock
from harness.models.base import quiet_progress
from harness.paths import cache_dir
from harness.train.identity import model_identity, samples_identity
from harness.train.loop import epoch_order

log = logging.getLogger(__name__)


def sft_key(teacher, samples: Sequence[TrainSample], sft_spec, seed: int) -> str:
    return content_hash({
        "base": model_identity(teacher),
        "data": samples_identity(samples),
        "sft": sft_spec.model_dump(),
        "seed": seed,
        "version": "sft-v1",
    })


ENVIRONMENT_PREFIX = "Environment: "


def grounding_samples(samples: Sequence[TrainSample]) -> list[TrainSample]:
    """Each sample with its answer cut to its ``Environment:`` line (samples without one are left out).

    Why: a tiny language model learns the text patterns of long structured answers
    long before it starts reading its few image tokens, and then never does. The
    environment line (time of day, weather, road) can only be decided from the image,
    so a short warm-up on it makes the model use the picture first (docs/grounding.md).
    """
    out = []
    for s in samples:
        line = next((l for l in s.answer.split("\n") if l.startswith(ENVIRONMENT_PREFIX)), None)
        if line is not None:
            out.append(replace(s, answer=line))
    return out


def grounding_plan(samples: Sequence[TrainSample], sft_spec, seed: int) -> tuple[list[TrainSample], list[TrainSample]]:
    """(warm-up samples, main samples) of a teacher's SFT: pure, so the plan can be checked."""
    captions = grounding_samples(samples) if (sft_spec.grounding_steps or sft_spec.grounding_mix) else []
    if sft_spec.grounding_steps and not captions:
        raise HarnessError("sft.grounding_steps: no training answer has an `Environment:` line to warm up on")
    warm = captions if sft_spec.grounding_steps else []
    main = list(samples)
    if sft_spec.grounding_mix and captions:
        main += random.Random(seed).sample(captions, min(len(captions), int(sft_spec.grounding_mix * len(samples))))
    return warm, main


def train_teacher(loaded, samples: Sequence[TrainSample], sft_spec, seed: int, *, progress: bool = True) -> dict:
    """The recipe's SFT of a teacher: optional grounding warm-up, then fine-tuning (mixed as asked)."""
    warm, main = grounding_plan(samples, sft_spec, seed)
    losses: dict = {}
    if warm:
        per_epoch = math.ceil(len(warm) / sft_spec.batch_size)
        settings = sft_spec.model_copy(update={"epochs": math.ceil(sft_spec.grounding_steps / per_epoch),
                                               "max_steps": sft_spec.grounding_steps})
        losses["grounding"] = fine_tune(loaded, warm, settings, seed, progress=progress)
    losses["sft"] = fine_tune(loaded, main, sft_spec, seed, progress=progress)
    return losses


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
    encodings = EncodingMemo()  # each sample is encoded once, not once per epoch
    running: list[float] = []
    while step < total:
        epoch, in_epoch = divmod(step, per_epoch)
        order = epoch_order(len(samples), seed, epoch)
        chunk = order[in_epoch * sft_spec.batch_size : (in_epoch + 1) * sft_spec.batch_size]
        batch = collate_train([samples[i] for i in chunk], loaded, memo=encodings).to(model_device(model))
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
    root = cache_dir() / "sft"
    final = root / key[:24]
    if is_intact(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    with BuildLock(root / f"build-{key[:24]}"):
        if is_intact(final):
            return final
        remove_stale_builds(final)
        if final.exists():
            log.warning("fine-tuned model %s is damaged or incomplete; rebuilding it", final)
            shutil.rmtree(final)
        losses = train_teacher(loaded, samples, sft_spec, seed, progress=progress)
        with atomic_folder(final, replace=False) as tmp:
            with quiet_progress():
                loaded.model.save_pretrained(tmp)
                loaded.processor.save_pretrained(tmp)
            (tmp / "sft.json").write_text(digest_note(loaded, sft_spec, seed, losses))
            write_checksums(tmp)
    return final


def digest_note(loaded, sft_spec, seed: int, losses: dict[str, float]) -> str:
    import json

    return json.dumps({"base": loaded.name, "sft": sft_spec.model_dump(), "seed": seed, "loss": losses}, indent=2, default=str)
