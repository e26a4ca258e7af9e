"""Per-device memory of a run, estimated from model shapes: pure arithmetic, no torch.

The terms follow what the harness's step holds at its peak (the end of the last
per-objective backward, or the optimizer step, whichever is larger):

- weights; the combined gradient ``.grad`` (present between micro-batches when
  ``grad_accum > 1``, and built during the single backward of ``sum``/SFT);
- AdamW's two moments, in the parameters' dtype;
- the K per-objective gradients of a Gramian combiner: ``ce`` reaches every trainable
  parameter, a distillation objective the vision side, the embeddings and the decoder
  layers up to its deepest student layer; the embedding table's share of each is the
  batch's rows (:mod:`harness.combine.row_sparse`), plus one whole table while the
  last backward forms it (and CE's whole table when the output head is tied to it);
- activations saved for backward at the recipe's sequence length (decoder, vision
  tower per image), one layer's worth with gradient checkpointing; CE's saved float32
  log-softmax, and the two logits-sized gradients its backward starts with only where
  they exceed CE's gradient (they are freed before that gradient forms);
- captured maps: per captured student layer the float32 head-mean map plus its
  queries and keys (:mod:`harness.signals.head_mean` keeps no per-head maps), and the
  teacher targets of each matched layer;
- each teacher copy: weights plus one inference pass (its captured maps, one layer's
  activations, logits).

The per-token activation counts are from the saved tensors of a Qwen2 decoder layer
(norm inputs and outputs, rotary queries and keys, sdpa's repeated keys/values and
output, the o_proj input, the MLP's gate, up, activation and product) and of an
InternViT layer; docs/performance.md compares the totals with measured peaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from harness.plan.sizes import ModelShape

GiB = float(1 << 30)
RUNTIME_BYTES = 0.6 * GiB  # interpreter, torch, allocator slack (CPU) or CUDA context (GPU)


@dataclass(frozen=True)
class StepShape:
    """What the run does per micro-batch."""

    seq_len: int
    images: int  # per sample
    batch: int = 1
    grad_accum: int = 1
    activation_bytes: int = 4  # 2 under bf16/fp16 autocast
    per_objective: bool = True  # a Gramian combiner (K backwards); False: one backward of the sum
    objective_depths: Sequence[int] = ()  # deepest student layer of each distillation objective
    captured_layers: int = 0  # student layers whose maps are captured
    target_maps: int = 0  # teacher target maps held per sample (one per matched student layer and objective)
    gradient_checkpointing: bool = False
    live_teachers: bool = False  # cache.mode live: teachers stay resident during training
    row_sparse_tables: bool = True  # per-objective embedding gradients kept as the batch's rows


@dataclass
class Estimate:
    """Bytes by part; ``total`` is their sum."""

    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def gib(self) -> dict[str, float]:
        return {k: round(v / GiB, 2) for k, v in self.parts.items()}


def decoder_activations(m: ModelShape, tokens: int, act: int, checkpointing: bool) -> float:
    per_token = (10 * m.hidden + 2 * m.kv_dim + 4 * m.intermediate) * act + (8 * m.hidden if act == 2 else 0)
    if checkpointing:  # each layer keeps its input; one layer is recomputed at a time
        return tokens * (m.layers * m.hidden * act + per_token)
    return tokens * m.layers * per_token


def vision_activations(m: ModelShape, images: int, act: int, checkpointing: bool) -> float:
    tokens = images * (m.vision_tokens + 1)
    per_token = (9 * m.vision_hidden + 2 * m.vision_intermediate) * act
    if checkpointing:
        return tokens * (m.vision_layers * m.vision_hidden * act + per_token)
    return tokens * m.vision_layers * per_token


def logits_bytes(m: ModelShape, tokens: int) -> float:
    return 3.0 * tokens * m.vocab * 4  # float32: the saved log-softmax and the two gradients backward starts with


def reach(m: ModelShape, depth: int) -> int:
    """Parameters a distillation objective at student layer ``depth`` has gradients for."""
    return m.vision_params + m.embed_params + (depth + 1) * m.layer_params


def table_rows_saved(m: ModelShape, step: StepShape, tokens: int) -> float:
    """Elements the K per-objective gradients do not hold because their embedding tables are kept as rows.

    Each of the K copies holds at most one row per token instead of the whole table.
    CE's backward is the last: it forms the whole table before keeping its rows (both
    exist for a moment), and keeps it whole when the output head is tied to the table.
    """
    if not step.row_sparse_tables or not m.vocab:
        return 0.0
    k = 1 + len(step.objective_depths)
    kept = min(m.vocab, tokens) * (m.embed_params / m.vocab)
    held = m.embed_params + (k - 1) * kept + (kept if m.head_params else 0.0)
    return max(0.0, k * m.embed_params - held)


def student_training(m: ModelShape, step: StepShape) -> Estimate:
    """The student's device during training (the teachers excluded)."""
    p, b = m.params, m.dtype_bytes
    tokens = step.seq_len * step.batch
    parts = {"runtime": RUNTIME_BYTES, "weights": p * b, "optimizer (AdamW)": 2 * p * b}
    held_grad = p * b if step.grad_accum > 1 else 0.0
    if step.per_objective:
        parts["gradients (.grad)"] = held_grad
        parts["per-objective gradients"] = (p + sum(reach(m, d) for d in step.objective_depths)
                                            - table_rows_saved(m, step, tokens)) * b
    else:
        parts["gradients (.grad)"] = p * b
    parts["activations"] = (decoder_activations(m, tokens, step.activation_bytes, step.gradient_checkpointing)
                            + vision_activations(m, step.images * step.batch, step.activation_bytes,
                                                 step.gradient_checkpointing))
    # CE's saved log-softmax (one float32 logits-sized tensor) lives from the forward until
    # CE's backward starts, beside everything else. The two more that backward makes at its
    # start (the gradients of the log-softmax and of the logits) are freed before any of CE's
    # gradient (which spans every parameter) exists: only what they exceed it by counts.
    one = logits_bytes(m, tokens) / 3
    parts["logits (saved log-softmax)"] = one
    parts["logits' gradients (beyond CE's gradient)"] = max(0.0, 2 * one - p * b)
    square = float(step.seq_len) ** 2 * 4 * step.batch
    parts["captured maps and targets"] = (step.captured_layers * (square + 2 * m.hidden * tokens * 4)
                                          + step.target_maps * square + (2 * square if step.target_maps else 0))
    return Estimate(parts)


def teacher_inference(m: ModelShape, step: StepShape, captured_layers: int) -> Estimate:
    """One teacher copy: its weights and one no-grad forward of a micro-batch."""
    tokens = step.seq_len * step.batch
    one_layer = tokens * (4 * m.hidden + 3 * m.intermediate) * m.dtype_bytes
    vision_layer = step.images * step.batch * (m.vision_tokens + 1) * (4 * m.vision_hidden + 2 * m.vision_intermediate) * m.dtype_bytes
    return Estimate({
        "weights": m.params * m.dtype_bytes,
        "inference": one_layer + vision_layer + tokens * m.vocab * m.dtype_bytes,
        "captured maps": captured_layers * float(step.seq_len) ** 2 * 4 * step.batch,
    })


@dataclass
class Placement:
    """Which device holds what, with the bytes each device needs; ``reason`` when nothing fits."""

    name: str | None
    devices: list[dict[str, float]]
    reason: str | None = None

    @property
    def fits(self) -> bool:
        return self.reason is None


def place(student: Estimate, teachers: Mapping[str, Estimate], *, gpus: int, capacity: float,
          live_teachers: bool) -> Placement:
    """A placement on ``gpus`` devices of ``capacity`` bytes: ``spread`` (student alone on device 0,
    teacher copies first-fit over the others, largest first) or, on one device, ``same``.

    In disk mode the teachers run before training and are then released, so a device
    that holds both needs the larger of the two phases, not their sum.
    """
    if student.total > capacity:
        return Placement(None, [], f"the student alone needs {student.total / GiB:.1f} GiB on one device, "
                                   f"more than {capacity / GiB:.0f} GiB (try train.gradient_checkpointing, "
                                   f"bf16 weights or a shorter sequence)")
    for key, est in teachers.items():
        if est.total + RUNTIME_BYTES > capacity:
            return Placement(None, [], f"teacher {key} needs {(est.total + RUNTIME_BYTES) / GiB:.1f} GiB on one "
                                       f"device, more than {capacity / GiB:.0f} GiB (a teacher is not split over devices)")
    loads: list[dict[str, float]] = [{"student": student.total}] + [{} for _ in range(gpus - 1)]

    def need(load: dict[str, float], device: int) -> float:
        teacher_bytes = sum(v for k, v in load.items() if k != "student")
        if device == 0:
            if live_teachers:
                return load["student"] + teacher_bytes
            weights_only = student.parts.get("weights", 0.0) + student.parts.get("runtime", 0.0)
            return max(load["student"], weights_only + teacher_bytes)
        return teacher_bytes + RUNTIME_BYTES if teacher_bytes else 0.0

    order = sorted(teachers, key=lambda k: -teachers[k].total)
    targets = list(range(1, gpus)) or [0]
    for key in order:
        for device in targets:
            trial = dict(loads[device], **{key: teachers[key].total})
            if need(trial, device) <= capacity:
                loads[device] = trial
                break
        else:
            where = "any of the other devices" if gpus > 1 else "the student's device"
            return Placement(None, [], f"teacher {key} ({teachers[key].total / GiB:.1f} GiB) does not fit on {where} "
                                       f"beside what is already there ({capacity / GiB:.0f} GiB each); "
                                       f"more or larger GPUs are needed")
    devices = [dict(load, total=need(load, i)) for i, load in enumerate(loads)]
    return Placement("spread" if gpus > 1 else "same", devices)
