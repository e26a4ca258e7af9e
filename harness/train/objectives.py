"""The recipe's objectives as functions of one batch: ``ce`` plus teacher signals.

Each objective is a named scalar per micro-batch, already multiplied by its
static weight and, for capability teachers, by the capability mixing factor of
each sample (Drive-KD scales every gradient by weight × mixing before combining).
The student's forward pass runs once with attention captured on the union of the
layers any objective needs; teacher targets come from a :mod:`targets` provider
(cached on disk or computed live), so this module never runs a teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from harness.data.types import CAPABILITIES
from harness.registry import LOSSES
from harness.signals import AttentionCapture, SignalPlan, hidden_states_of, resolve_signal
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
        return self.plan.kind.needs

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
    attention: dict[int, torch.Tensor] = field(default_factory=dict)
    hidden: dict[int, torch.Tensor] = field(default_factory=dict)
    logits: torch.Tensor | None = None


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

    def student_attention_layers(self) -> list[int]:
        return sorted({l for d in self.distill if d.needs == "attention" for l in d.plan.student_layers})

    def student_hidden_layers(self) -> list[int]:
        return sorted({l for d in self.distill if d.needs == "hidden" for l in d.plan.student_layers})

    def needs_logits(self) -> bool:
        return any(d.needs == "logits" for d in self.distill)

    def extra_parameters(self) -> list[nn.Parameter]:
        """Learned parts of losses (the hidden-state projection), trained with the student."""
        return [p for d in self.distill for p in d.loss.parameters()]

    def prepare(self, teachers: Mapping[str, Any]) -> None:
        """Create learned projections before the optimizer is built."""
        for d in self.distill:
            prepare = getattr(d.loss, "prepare", None)
            if prepare is not None and d.needs == "hidden":
                prepare(_hidden_width(self.student.model), _hidden_width(teachers[d.teacher].model))

    # -- one micro-batch ---------------------------------------------------------------

    def forward_student(self, batch) -> StudentOutputs:
        """One student forward with the requested layers captured (differentiable)."""
        model = self.student.model
        hidden_layers = self.student_hidden_layers()
        with AttentionCapture(self.student, self.student_attention_layers(), grad=True) as cap:
            out = model(**batch.model_inputs(with_labels=True), output_hidden_states=bool(hidden_layers))
        return StudentOutputs(
            ce=out.loss,
            attention=dict(cap.maps),
            hidden=hidden_states_of(out, hidden_layers) if hidden_layers else {},
            logits=out.logits if self.needs_logits() else None,
        )

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
        if d.needs == "logits":
            signals = [outputs.logits]
        elif d.needs == "hidden":
            signals = [outputs.hidden[l] for l in d.plan.student_layers]
        else:
            signals = [outputs.attention[l] for l in d.plan.student_layers]
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


def _hidden_width(model: nn.Module) -> int:
    config = getattr(model.config, "text_config", model.config)
    return int(config.hidden_size)
