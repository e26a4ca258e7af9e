"""Distillation losses between a student signal and its (frozen) teacher target.

Every loss is called as ``loss(student, teacher, mask=None)`` on tensors of the
same leading shape [B, …]; ``mask`` (bool, broadcastable to the inputs) selects
the entries that count, e.g. the text-to-vision block. Reductions follow the
Drive-KD facts: a per-sample mean over the selected entries ("sum over the block
/ block size"), then the mean over the samples that have any entry. The teacher
is always detached, so gradients reach the student (and a loss's own learned
projection) only. Losses are ``nn.Module`` classes whose keyword constructor
arguments are exactly their recipe options.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from harness.registry import LOSSES


class SignalShapeError(HarnessError, ValueError):
    """Student and teacher signals that cannot be compared entry by entry."""


def _full_mask(student: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(student, dtype=torch.bool)
    return mask.to(torch.bool).expand_as(student)


def _check(student: torch.Tensor, teacher: torch.Tensor, what: str) -> None:
    if student.shape != teacher.shape:
        raise SignalShapeError(
            f"{what}: student signal has shape {tuple(student.shape)} but the teacher's is {tuple(teacher.shape)}"
        )


def _position_mask(mask: torch.Tensor | None, positions: torch.Tensor) -> torch.Tensor:
    """A mask over positions [B, S] from a position mask ([B, S] or [B, S, 1]) or an entry mask [B, S, D]."""
    if mask is None:
        return torch.ones_like(positions, dtype=torch.bool)
    m = mask.to(torch.bool)
    if m.dim() == positions.dim() + 1:
        m = m.any(dim=-1)
    return m.expand_as(positions)


def masked_sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the masked entries of each sample, then over samples with any entry.

    Samples with an empty selection (e.g. a text-only sample for text-to-vision)
    are left out instead of counting as zero; with no entries at all the result
    is a graph-connected 0.
    """
    batch = values.shape[0]
    mask = mask.to(values.dtype)
    per_sample_sum = (values * mask).reshape(batch, -1).sum(dim=1)
    per_sample_count = mask.reshape(batch, -1).sum(dim=1)
    has_entries = per_sample_count > 0
    if not bool(has_entries.any()):
        return values.sum() * 0.0
    means = per_sample_sum[has_entries] / per_sample_count[has_entries]
    return means.mean()


class Loss(nn.Module):
    """Base of the distillation losses: ``forward(student, teacher, mask) -> scalar``."""

    #: Enters every run's identity: bump it when a change alters the loss's value.
    version: int = 1


@LOSSES.register("mse")
class MSELoss(Loss):
    """Masked mean squared error: per-sample block mean of squared differences, averaged over the batch."""

    def __init__(self):  # explicit: the recipe validator reads options from this signature
        super().__init__()

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(student, teacher, "mse")
        teacher = teacher.detach().to(student.dtype)
        return masked_sample_mean((student - teacher) ** 2, _full_mask(student, mask))


@LOSSES.register("cosine")
class CosineLoss(Loss):
    """1 − cosine similarity of each sample's selected entries (flattened), averaged over the batch.

    Written as ½‖ŝ − t̂‖² with ŝ = s/‖s‖, which equals 1 − cos for non-zero
    vectors and is 0 (not 1) when student and teacher are both all-zero.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = float(eps)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(student, teacher, "cosine")
        teacher = teacher.detach().to(student.dtype)
        m = _full_mask(student, mask).to(student.dtype)
        batch = student.shape[0]
        s = (student * m).reshape(batch, -1)
        t = (teacher * m).reshape(batch, -1)
        has_entries = m.reshape(batch, -1).sum(dim=1) > 0
        if not bool(has_entries.any()):
            return student.sum() * 0.0
        s_hat = s / s.norm(dim=1, keepdim=True).clamp_min(self.eps)
        t_hat = t / t.norm(dim=1, keepdim=True).clamp_min(self.eps)
        per_sample = 0.5 * ((s_hat - t_hat) ** 2).sum(dim=1)
        return per_sample[has_entries].mean()


@LOSSES.register("kl")
class KLLoss(Loss):
    """KL(teacher ‖ student) of temperature-softened logits, × T², mean over the selected positions.

    Inputs are logits [B, S, V]; ``mask`` selects positions ([B, S], [B, S, 1], or an
    entry mask [B, S, V] where a position counts if any of its entries does).
    Student and teacher must share the vocabulary (same family tokenizer).
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise HarnessError(f"loss 'kl': temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(student, teacher, "kl")
        t = self.temperature
        log_p_student = F.log_softmax(student.float() / t, dim=-1)
        log_p_teacher = F.log_softmax(teacher.detach().float() / t, dim=-1)
        per_position = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=-1).clamp_min(0.0) * (t * t)
        return masked_sample_mean(per_position, _position_mask(mask, per_position))


@LOSSES.register("hidden")
class HiddenLoss(Loss):
    """Hidden-state MSE; a learned linear projection maps student width to teacher width when they differ.

    The projection is created by :meth:`prepare` (call it before building the
    optimizer and add ``loss.parameters()``) or lazily on the first call.
    """

    def __init__(self, project: bool = True):
        super().__init__()
        self.project = bool(project)
        self.projection: nn.Linear | None = None

    def prepare(self, student_width: int, teacher_width: int) -> None:
        """Create the projection for these widths (no-op when equal or already created)."""
        if student_width == teacher_width or self.projection is not None:
            return
        if not self.project:
            raise SignalShapeError(
                f"hidden: student width {student_width} differs from teacher width {teacher_width} and project is off"
            )
        generator = torch.Generator().manual_seed(0)
        layer = nn.Linear(student_width, teacher_width, bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(teacher_width, student_width, generator=generator) / student_width ** 0.5)
        self.projection = layer

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if student.shape[:-1] != teacher.shape[:-1]:
            raise SignalShapeError(
                f"hidden: student states {tuple(student.shape)} and teacher states {tuple(teacher.shape)} differ in tokens"
            )
        if student.shape[-1] != teacher.shape[-1]:
            self.prepare(student.shape[-1], teacher.shape[-1])
            self.projection.to(device=student.device, dtype=student.dtype)
            student = self.projection(student)
        teacher = teacher.detach().to(student.dtype)
        squared = ((student - teacher) ** 2).mean(dim=-1)
        return masked_sample_mean(squared, _position_mask(mask, squared))
