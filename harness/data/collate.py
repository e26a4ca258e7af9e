"""Collation per model family: samples → padded tensors the model's forward accepts.

Collation lives next to the chat template and processor because the two decide
everything: where image tokens go, how many there are, and which tokens are the
answer. Each sample is rendered with the family's own chat template, its images
are resized to one square tile (Drive-KD feeds one tile per image) and expanded by
the family processor, and labels are put on the answer tokens only (prompt,
template and image tokens get -100). Training batches are right-padded (labels
line up with the prompt start); generation batches are left-padded (every row
ends where generation begins).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence, Union

import torch
from PIL import Image

from harness.data.encodings import EncodingMemo
from harness.data.types import CAPABILITIES, TrainSample
from harness.errors import HarnessError

IGNORE_INDEX = -100
ImageLike = Union[str, Path, Image.Image]

class CollateError(HarnessError):
    """A sample that cannot be turned into model inputs (missing image, bad capability…)."""


@dataclass
class Batch:
    """Padded model inputs plus what the harness needs beside them.

    ``inputs`` are the forward keyword arguments: the processor outputs the family's
    adapter names per token (``token_input_keys``, padded) and per image
    (``image_input_keys``, concatenated), e.g. ``image_grid_thw`` and
    ``mm_token_type_ids`` for the Qwen families. ``labels`` is None for generation batches.
    ``image_mask`` marks image-feature tokens; ``capabilities`` holds indices into
    :data:`CAPABILITIES` (-1 when unknown, e.g. in generation).
    """

    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor | None
    image_mask: torch.Tensor
    capabilities: torch.Tensor
    capability_names: list[str]
    ids: list[str]
    padding_side: str = "right"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_ids(self) -> torch.Tensor:
        return self.inputs["input_ids"]

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.inputs["attention_mask"]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device, dtype: torch.dtype | None = None) -> "Batch":
        """Move tensors to ``device``; ``dtype`` applies to floating pixel values only."""
        def move(t: torch.Tensor) -> torch.Tensor:
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device)

        return replace(
            self,
            inputs={k: move(v) for k, v in self.inputs.items()},
            labels=None if self.labels is None else self.labels.to(device),
            image_mask=self.image_mask.to(device),
            capabilities=self.capabilities.to(device),
        )

    def model_inputs(self, *, with_labels: bool = False) -> dict[str, torch.Tensor]:
        """Keyword arguments for ``model(**…)`` (labels only when asked, e.g. for HF's own CE)."""
        out = dict(self.inputs)
        if with_labels and self.labels is not None:
            out["labels"] = self.labels
        return out


def load_image(image: ImageLike, side: int, *, item: str = "sample") -> Image.Image:
    """An RGB square tile of ``side`` pixels from a path or a PIL image."""
    if isinstance(image, Image.Image):
        img = image
    else:
        path = Path(image)
        try:
            img = Image.open(path)
            img.load()
        except FileNotFoundError:
            raise CollateError(f"{item}: image '{path}' does not exist") from None
        except OSError as exc:
            raise CollateError(f"{item}: image '{path}' cannot be read ({exc})") from None
    img = img.convert("RGB")
    if img.size != (side, side):
        img = img.resize((side, side), Image.Resampling.BICUBIC)
    return img


def _capability_index(sample_id: str, capability: str | None) -> int:
    if capability is None:
        return -1
    try:
        return CAPABILITIES.index(capability)
    except ValueError:
        raise CollateError(
            f"{sample_id}: capability '{capability}' is not one of {', '.join(CAPABILITIES)}"
        ) from None


def _encode(loaded, images: list[Image.Image], text: str) -> dict[str, torch.Tensor]:
    processor = loaded.processor
    kwargs = {"text": [text], "return_tensors": "pt"}
    if images:
        kwargs["images"] = images
    return dict(processor(**kwargs))


def _answer_length(loaded, encoded_ids: list[int], prompt: str, full: str, images, sample_id: str) -> int:
    """How many trailing tokens of ``full`` belong to the answer turn (answer + end of turn).

    Tokenising the suffix alone is exact when the tokenizer does not merge across
    the prompt/answer boundary (true for the chat-template newline before the
    answer); otherwise the prompt is encoded on its own and its length is used.
    """
    tokenizer = loaded.tokenizer
    if not full.startswith(prompt):
        raise AssertionError(f"{loaded.name}: chat template prompt is not a prefix of the full conversation")
    suffix_ids = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]
    n = len(suffix_ids)
    if n and encoded_ids[-n:] == suffix_ids:
        return n
    prompt_ids = _encode(loaded, images, prompt)["input_ids"][0].tolist()
    if encoded_ids[: len(prompt_ids)] != prompt_ids:
        raise AssertionError(f"{loaded.name}: {sample_id}: prompt tokens are not a prefix of the conversation tokens")
    return len(encoded_ids) - len(prompt_ids)


def _label_row(ids: list[int], n_answer: int, eos_id: int | None) -> list[int]:
    """-100 everywhere except the answer turn, which ends at its last end-of-turn token."""
    start = len(ids) - n_answer
    stop = len(ids)
    if eos_id is not None and eos_id in ids[start:]:
        stop = start + max(i for i, t in enumerate(ids[start:]) if t == eos_id) + 1
    return [IGNORE_INDEX] * start + ids[start:stop] + [IGNORE_INDEX] * (len(ids) - stop)


def _pad(rows: list[list[int]], value: int, side: str) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        if side == "right":
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        else:
            out[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
    return out


def _assemble(loaded, encoded: list[dict], labels: list[list[int]] | None, side: str, ids, caps) -> Batch:
    pad_id = loaded.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = loaded.tokenizer.eos_token_id
    inputs: dict[str, torch.Tensor] = {}
    for key in loaded.adapter.token_input_keys:
        if key in encoded[0]:
            rows = [e[key][0].tolist() for e in encoded]
            inputs[key] = _pad(rows, pad_id if key == "input_ids" else 0, side)
    for key in loaded.adapter.image_input_keys:
        parts = [e[key] for e in encoded if key in e and e[key].numel()]
        if parts:
            inputs[key] = torch.cat(parts, dim=0)
    if "pixel_values" in inputs and not inputs["pixel_values"].is_floating_point():
        inputs["pixel_values"] = inputs["pixel_values"].float()
    label_tensor = None if labels is None else _pad(labels, IGNORE_INDEX, side)
    return Batch(
        inputs=inputs,
        labels=label_tensor,
        image_mask=loaded.image_token_mask(inputs["input_ids"]) & inputs["attention_mask"].bool(),
        capabilities=torch.tensor(caps, dtype=torch.long),
        capability_names=[CAPABILITIES[c] if c >= 0 else "" for c in caps],
        ids=list(ids),
        padding_side=side,
    )


def _encode_train(sample: TrainSample, loaded) -> tuple[dict[str, torch.Tensor], list[int], int]:
    """One training sample's processor output, label row and capability index."""
    adapter = loaded.adapter
    images = [load_image(p, loaded.image_side, item=sample.id) for p in sample.images]
    prompt = adapter.prompt_text(loaded.processor, len(images), sample.question)
    full = adapter.prompt_text(loaded.processor, len(images), sample.question, sample.answer)
    enc = _encode(loaded, images, full)
    ids = enc["input_ids"][0].tolist()
    n_answer = _answer_length(loaded, ids, prompt, full, images, sample.id)
    return enc, _label_row(ids, n_answer, loaded.tokenizer.eos_token_id), _capability_index(sample.id, sample.capability)


def collate_train(samples: Sequence[TrainSample], loaded, *, memo: EncodingMemo | None = None) -> Batch:
    """A right-padded training batch with labels on the answer tokens only.

    ``memo``: this model's :class:`~harness.data.encodings.EncodingMemo`; a sample met before is
    taken from it instead of being encoded again (same tensors either way).
    """
    if not samples:
        raise CollateError("collate: an empty list of samples")
    encoded, labels, caps = [], [], []
    for sample in samples:
        found = memo.get(sample) if memo is not None else None
        if found is None:
            found = _encode_train(sample, loaded)
            if memo is not None:
                memo.put(sample, found)
        enc, label_row, cap = found
        encoded.append(enc)
        labels.append(label_row)
        caps.append(cap)
    return _assemble(loaded, encoded, labels, "right", [s.id for s in samples], caps)


def collate_generation(
    loaded,
    images: Sequence[Sequence[ImageLike]],
    questions: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    capabilities: Sequence[str | None] | None = None,
) -> Batch:
    """A left-padded batch of prompts ending in the generation prompt (no labels)."""
    if len(images) != len(questions):
        raise ValueError("collate_generation: images and questions differ in length")
    if not questions:
        raise CollateError("collate: an empty list of prompts")
    ids = list(ids) if ids is not None else [str(i) for i in range(len(questions))]
    caps_in = list(capabilities) if capabilities is not None else [None] * len(questions)
    encoded, caps = [], []
    for item_id, item_images, question, cap in zip(ids, images, questions, caps_in):
        tiles = [load_image(p, loaded.image_side, item=item_id) for p in item_images]
        encoded.append(_encode(loaded, tiles, loaded.adapter.prompt_text(loaded.processor, len(tiles), question)))
        caps.append(_capability_index(item_id, cap))
    return _assemble(loaded, encoded, None, "left", ids, caps)


def collate_continuations(
    loaded,
    images: Sequence[Sequence[ImageLike]],
    questions: Sequence[str],
    continuations: Sequence[Sequence[str]],
    *,
    ids: Sequence[str] | None = None,
) -> Batch:
    """Right-padded rows of (prompt ending in the generation prompt) + one continuation each, labels on
    the continuation's tokens only: one row per (prompt, continuation), prompts in order.

    Each prompt (and its images) is encoded once and shared by its continuations; a continuation is
    tokenised on its own and appended, as an answer follows the template's newline in training
    (:func:`_answer_length` relies on the same boundary). What option-likelihood scoring feeds.
    """
    if not (len(images) == len(questions) == len(continuations)):
        raise ValueError("collate_continuations: images, questions and continuations differ in length")
    ids = list(ids) if ids is not None else [str(i) for i in range(len(questions))]
    encoded, labels, row_ids = [], [], []
    for item_id, item_images, question, options in zip(ids, images, questions, continuations):
        tiles = [load_image(p, loaded.image_side, item=item_id) for p in item_images]
        prompt = _encode(loaded, tiles, loaded.adapter.prompt_text(loaded.processor, len(tiles), question))
        n_prompt = int(prompt["input_ids"].shape[1])
        for text in options:
            tail = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
            if not tail:
                raise CollateError(f"{item_id}: an empty continuation cannot be scored")
            row = dict(prompt)
            for key in loaded.adapter.token_input_keys:
                if key in row:
                    fill = torch.tensor([tail]) if key == "input_ids" else torch.full((1, len(tail)), int(key == "attention_mask"))
                    row[key] = torch.cat([row[key], fill.to(row[key].dtype)], dim=1)
            encoded.append(row)
            labels.append([IGNORE_INDEX] * n_prompt + list(tail))
            row_ids.append(item_id)
    if not encoded:
        raise CollateError("collate: no continuations to score")
    return _assemble(loaded, encoded, labels, "right", row_ids, [-1] * len(encoded))


def collate_generation_samples(samples: Sequence[TrainSample], loaded) -> Batch:
    """Generation inputs for training-format samples (their questions, no answers)."""
    return collate_generation(
        loaded, [s.images for s in samples], [s.question for s in samples],
        ids=[s.id for s in samples], capabilities=[s.capability for s in samples],
    )


class Collator:
    """A picklable ``collate_fn`` for ``torch.utils.data.DataLoader`` over TrainSamples."""

    def __init__(self, loaded, *, mode: str = "train", memo: EncodingMemo | None = None):
        if mode not in ("train", "generate"):
            raise ValueError(f"Collator mode must be 'train' or 'generate', not {mode!r}")
        self.loaded = loaded
        self.mode = mode
        self.memo = memo

    def __call__(self, samples: Sequence[TrainSample]) -> Batch:
        if self.mode == "train":
            return collate_train(samples, self.loaded, memo=self.memo)
        return collate_generation_samples(samples, self.loaded)


def same_encoding(a, b) -> bool:
    """Whether two loaded models turn every sample into the same batch (family, image side, processor,
    chat template, vocabulary, image-token ids), so one decoded and collated batch serves both."""
    if a is b:
        return True
    if a.family != b.family or a.image_side != b.image_side or type(a.processor) is not type(b.processor):
        return False
    if a.adapter.image_token_ids(a.model.config) != b.adapter.image_token_ids(b.model.config):
        return False
    pa, pb = a.processor, b.processor
    if getattr(pa, "chat_template", None) != getattr(pb, "chat_template", None):
        return False
    image_a, image_b = getattr(pa, "image_processor", None), getattr(pb, "image_processor", None)
    if (image_a is None) != (image_b is None) or (image_a is not None and image_a.to_dict() != image_b.to_dict()):
        return False
    if getattr(pa, "image_seq_length", None) != getattr(pb, "image_seq_length", None):
        return False
    return a.tokenizer.get_vocab() == b.tokenizer.get_vocab() and a.tokenizer.pad_token_id == b.tokenizer.pad_token_id
