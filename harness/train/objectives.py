"""The recipe's objectives as functions of one batch: ``ce`` plus teacher signals.

Each objective is a named scalar per micro-batch, already multiplied by its
static weight and, for capability teachers, by the capability mixing factor of
each sample (Drive-KD scales every gradient by weight × mixing before combining).
The student's forward pass runs once with every objective's recorder tapping it
(:class:`harness.signals.Recording`: attention captured on the union of the layers
the attention objectives need, hidden states, logits, …); teacher targets come from
a :mod:`targets` provider (cached on disk or computed live), so this module never
runs a teacher and never asks what kind of tensor a signal is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from harness.data.types import CAPABILITIES
from harness.registry import LOSSES
from harness.signals import Recorder, Recording, SignalPlan, requests, resolve_signal
from harness.train.mixing import DRIVEKD_MIXING, mixing_factors


@dataclass
class DistillObjective:
    """A teacher objective resolved against the student and its teacher."""

    name: str
    teacher: str  # key in the recipe's teachers
    plan: SignalPlan
    loss: nn.Module
    weight: float
    capability: str | None  # whose mixing column applies (None: not mixed)

    @property
    def needs(self) -> str:
        """The name of the recorder that captures this objective's tensors."""
        return self.plan.kind.needs

    @property
    def recorder(self) -> Recorder:
        return self.plan.kind.recorder

    def describe(self) -> dict[str, Any]:
        """What identifies this objective's teacher targets (part of the cache key)."""
        return {
            "type": self.plan.type,
            "student_layers": list(self.plan.student_layers),
            "teacher_groups": [list(g) for g in self.plan.teacher_groups],
            "heads": self.plan.heads,
        }


@dataclass
class StudentOutputs:
    """What one student forward produced for the objectives."""

    ce: torch.Tensor
    taken: dict[str, dict] = field(default_factory=dict)  # recorder name → its tensors by layer


class ObjectiveSet:
    """All objectives of a recipe, resolved for one student and its teachers."""

    def __init__(self, spec, student, teachers: Mapping[str, Any]):
        self.student = student
        self.ce_weight: float | None = spec.objectives["ce"].weight if "ce" in spec.objectives else None
        self.mixing = spec.mixing if spec.mixing is not None else DRIVEKD_MIXING
        self.distill: list[DistillObjective] = []
        for name, obj in spec.objectives.items():
            if name == "ce":
                continue
            plan = resolve_signal(obj.signal.model_dump(), student, teachers[obj.teacher])
            loss = LOSSES.build(obj.loss, field=f"objectives.{name}.loss")
            capability = obj.capability or (name if name in CAPABILITIES else None)
            self.distill.append(DistillObjective(name, obj.teacher, plan, loss, obj.weight, capability))
        self.names = (["ce"] if self.ce_weight is not None else []) + [d.name for d in self.distill]

    # -- what the student forward must produce -----------------------------------------

    def student_requests(self) -> dict[str, list[int]]:
        """What the student forward must record: recorder name → the student layers any objective needs."""
        return requests((d.needs, d.plan.student_layers) for d in self.distill)

    def extra_parameters(self) -> list[nn.Parameter]:
        """Learned parts of losses (the hidden-state projection), trained with the student."""
        return [p for d in self.distill for p in d.loss.parameters()]

    def prepare(self, teachers: Mapping[str, Any]) -> None:
        """Create learned projections before the optimizer is built."""
        for d in self.distill:
            prepare = getattr(d.loss, "prepare", None)
            widths = d.recorder.width(self.student), d.recorder.width(teachers[d.teacher])
            if prepare is not None and None not in widths:
                prepare(*widths)

    # -- one micro-batch ---------------------------------------------------------------

    def forward_student(self, batch) -> StudentOutputs:
        """One student forward with the requested layers captured (differentiable)."""
        with Recording(self.student, self.student_requests(), grad=True) as rec:
            out = self.student.model(**batch.model_inputs(with_labels=True), **rec.forward_kwargs)
        return StudentOutputs(ce=out.loss, taken=rec.read(out))

    def losses(self, outputs: StudentOutputs, batch, targets: Mapping[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Weighted (and mixed) scalar loss of every objective, in ``self.names`` order."""
        losses: dict[str, torch.Tensor] = {}
        if self.ce_weight is not None:
            losses["ce"] = outputs.ce * self.ce_weight
        for d in self.distill:
            per_sample = self.per_sample_loss(d, outputs, batch, targets[d.name])
            factors = mixing_factors(batch.capability_names, d.capability, self.mixing).to(per_sample)
            losses[d.name] = (per_sample * factors).mean() * d.weight
        return losses

    def scales(self, batch) -> dict[str, float]:
        """Each objective's factor in :meth:`losses`: static weight × the batch's mean mixing factor.

        An online reweighting divides it out of the gradient norms to get the norm of the
        plain loss's gradient, as Drive-KD's trainer measures it (exact with one sample
        per micro-batch).
        """
        scales: dict[str, float] = {}
        if self.ce_weight is not None:
            scales["ce"] = float(self.ce_weight)
        for d in self.distill:
            factors = mixing_factors(batch.capability_names, d.capability, self.mixing)
            scales[d.name] = float(factors.mean()) * d.weight
        return scales

    @staticmethod
    def per_sample_loss(d: DistillObjective, outputs: StudentOutputs, batch, targets: list[torch.Tensor]) -> torch.Tensor:
        """[B] loss of one objective: each sample's mean over its matched layers."""
        mask = d.plan.kind.entry_mask(batch)
        signals = d.recorder.signals(outputs.taken[d.needs], d.plan)
        if len(signals) != len(targets):
            raise ValueError(f"objective {d.name}: {len(targets)} targets for {len(signals)} student signals")
        rows = []
        for i in range(len(batch)):
            per_layer = [
                d.loss(s[i : i + 1], t[i : i + 1].to(s.device), mask[i : i + 1].to(s.device))
                for s, t in zip(signals, targets)
            ]
            rows.append(torch.stack(per_layer).mean())
        return torch.stack(rows)
