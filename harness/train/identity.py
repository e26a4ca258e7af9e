"""Content identities: what a cached artefact depends on, as a short hash.

The teacher-target cache and the fine-tuned-teacher cache are keyed by the
content they depend on, never by names: two recipes that share a teacher's
weights, the data and the signal share the cache, and a change to any of them
misses it. Weights are hashed by their bytes (large files by size plus sampled
blocks, so an 8B checkpoint is not read whole), data by each sample's text and its
images' size and modification time, prompts by the chat template and image size.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from harness.data.types import TrainSample
from harness.integrity import content_hash, folder_digest

TARGETS_VERSION = "targets-v1"  # bump when the stored layout of targets changes


def model_identity(loaded) -> str:
    """Identity of a loaded model: its folder's content, or the architecture + weight seed for random init."""
    source = getattr(loaded, "source", None)
    folder = getattr(loaded.model, "name_or_path", None) or getattr(loaded.model.config, "_name_or_path", None)
    if source is not None and source.init == "random":
        return content_hash({"family": source.family, "scale": source.scale, "zoo": source.zoo, "init": "random", "seed": source.seed,
                       "dtype": source.dtype})
    if folder and Path(folder).is_dir():
        return folder_digest(folder)
    return content_hash({"name": loaded.name, "config": loaded.model.config.to_json_string()})


def samples_identity(samples: Iterable[TrainSample]) -> str:
    """Identity of training data: ids, text, capability and each image's size and mtime."""
    h = hashlib.sha256()
    for s in samples:
        images = []
        for p in s.images:
            try:
                st = os.stat(p)
                images.append((p, st.st_size, st.st_mtime_ns))
            except OSError:
                images.append((p, None, None))
        h.update(json.dumps([s.id, s.question, s.answer, s.capability, images], default=str).encode("utf-8"))
    return h.hexdigest()


def template_identity(loaded) -> str:
    """Identity of how a sample becomes tokens: family, chat template, image side, vocabulary."""
    processor = loaded.processor
    template = getattr(processor, "chat_template", None) or getattr(loaded.tokenizer, "chat_template", None)
    return content_hash({
        "family": loaded.family,
        "template": template,
        "image_side": loaded.image_side,
        "vocab": len(loaded.tokenizer),
    })
