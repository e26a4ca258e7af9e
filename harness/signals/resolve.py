"""From a recipe signal to concrete layers and targets for one student/teacher pair.

A signal spec (``{type, layers, matching, pairs, heads}``) says *what* to
distil; :func:`resolve_signal` turns it into the student layers to capture and,
for each, the group of teacher layers whose mean map is its target, resolving the
layer spec against each model's own depth. Every error names both models so a
recipe with several teachers is easy to fix. :func:`signal_loss` then applies a
loss over the matched layers (the mean over matched layers, as Drive-KD does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from harness.errors import HarnessError
from harness.registry import MATCHINGS, SIGNALS
from harness.signals.kinds import SignalKind
from harness.signals.layers import LayerSpecError, parse_layer_spec
from harness.signals.matching import MatchingError


#: The keys of a signal spec that are not its kind's options (the recipe's ``SignalSpec`` fields).
SPEC_KEYS = ("type", "attention", "layers", "matching", "pairs", "heads")


class SignalError(HarnessError, ValueError):
    """A signal that cannot be applied to this student/teacher pair."""


@dataclass(frozen=True)
class SignalPlan:
    """A resolved signal: student layer i's target is the mean of ``teacher_groups[i]``."""

    type: str
    kind: SignalKind
    student_layers: tuple[int, ...]
    teacher_groups: tuple[tuple[int, ...], ...]
    heads: str
    student: str
    teacher: str

    @property
    def teacher_layers(self) -> list[int]:
        """Every teacher layer any group uses (what the teacher must capture)."""
        return sorted({t for group in self.teacher_groups for t in group})


def _field(spec: Any, key: str, default=None):
    if isinstance(spec, Mapping):
        value = spec.get(key, default)
    else:
        value = getattr(spec, key, default)
    if key == "type" and value is None:
        value = spec.get("attention") if isinstance(spec, Mapping) else getattr(spec, "attention", None)
    return default if value is None else value


def kind_options(spec: Any) -> dict[str, Any]:
    """The signal kind's own options in a spec: every key that is not a field of the signal."""
    if isinstance(spec, Mapping):
        return {k: v for k, v in spec.items() if k not in SPEC_KEYS}
    return dict(getattr(spec, "options", {}) or {})


def resolve_signal(spec: Any, student, teacher) -> SignalPlan:
    """Resolve a signal spec (dict or recipe object) for a student and a teacher :class:`LoadedVLM`."""
    kind_name = _field(spec, "type")
    kind = SIGNALS.build({"name": kind_name, **kind_options(spec)}, field="signal")
    matching = _field(spec, "matching", "none")
    heads = _field(spec, "heads", "mean")
    if heads != "mean":
        raise SignalError(f"signal {kind_name}: heads '{heads}' is not supported (use mean)")
    s_depth, t_depth = student.depth, teacher.depth
    who = f"student {student.name} ({s_depth} layers) / teacher {teacher.name} ({t_depth} layers)"
    if not kind.uses_layers:
        return SignalPlan(kind_name, kind, (), (), heads, student.name, teacher.name)
    match = MATCHINGS.get(matching)
    try:
        if matching == "pairs":
            pairs = _field(spec, "pairs")
            if not pairs:
                raise SignalError(f"signal {kind_name}: matching 'pairs' needs a 'pairs' list of [student, teacher] layers")
            s_layers, t_layers = [], []
            for pair in pairs:
                if len(pair) != 2:
                    raise SignalError(f"signal {kind_name}: pair {pair!r} is not [student, teacher]")
                s_layers.append(parse_layer_spec(pair[0]).resolve(s_depth, model=f"student {student.name}")[0])
                t_layers.append(parse_layer_spec(pair[1]).resolve(t_depth, model=f"teacher {teacher.name}")[0])
        else:
            layer_spec = parse_layer_spec(_field(spec, "layers", "first"))
            s_layers = layer_spec.resolve(s_depth, model=f"student {student.name}")
            t_layers = layer_spec.resolve(t_depth, model=f"teacher {teacher.name}")
        groups = match(s_layers, t_layers)
    except (LayerSpecError, MatchingError) as exc:
        raise SignalError(f"signal {kind_name} ({who}): {exc}") from None
    student_layers = list(dict.fromkeys(s_layers)) if matching == "pairs" else list(s_layers)
    return SignalPlan(
        kind_name, kind, tuple(student_layers), tuple(tuple(g) for g in groups), heads, student.name, teacher.name
    )


def check_same_layout(student_name: str, teacher_name: str, student_batch, teacher_batch) -> None:
    """Student and teacher must see the same token layout for maps to be compared entry by entry."""
    s_ids, t_ids = student_batch.input_ids, teacher_batch.input_ids
    s_img, t_img = student_batch.image_mask, teacher_batch.image_mask
    if s_ids.shape != t_ids.shape or not torch.equal(s_img.cpu(), t_img.cpu()) or not torch.equal(
        student_batch.attention_mask.cpu(), teacher_batch.attention_mask.cpu()
    ):
        raise SignalError(
            f"token layouts differ: student {student_name} has sequence length {s_ids.shape[-1]} with "
            f"{int(s_img.sum())} image tokens, teacher {teacher_name} has sequence length {t_ids.shape[-1]} with "
            f"{int(t_img.sum())} image tokens; attention distillation needs the same tokenizer and image-token layout "
            "(same family, same image size)"
        )


def teacher_targets(plan: SignalPlan, teacher_maps: Mapping[int, torch.Tensor]) -> list[torch.Tensor]:
    """One target per student layer: the mean of its group's teacher maps (detached)."""
    targets = []
    for group in plan.teacher_groups:
        missing = [t for t in group if t not in teacher_maps]
        if missing:
            raise SignalError(f"signal {plan.type}: teacher {plan.teacher} maps of layers {missing} were not captured")
        targets.append(torch.stack([teacher_maps[t].detach() for t in group]).mean(dim=0))
    return targets


def signal_loss(plan: SignalPlan, loss, student_maps: Mapping[int, torch.Tensor], targets: Sequence[torch.Tensor], batch) -> torch.Tensor:
    """Mean over matched layers of ``loss(student map, target, mask)``; the mask comes from the signal kind."""
    if len(targets) != len(plan.student_layers):
        raise SignalError(f"signal {plan.type}: {len(targets)} targets for {len(plan.student_layers)} student layers")
    mask = plan.kind.entry_mask(batch)
    recorder = plan.kind.recorder
    losses = []
    for layer, target in zip(plan.student_layers, targets):
        student_map = student_maps[layer]
        if not recorder.comparable(student_map, target):
            raise SignalError(
                f"signal {plan.type}: student {plan.student} (sequence length {student_map.shape[1]}) and teacher "
                f"{plan.teacher} (sequence length {target.shape[1]}) give signals of shapes {tuple(student_map.shape)} "
                f"and {tuple(target.shape)}; they need the same token layout"
            )
        losses.append(loss(student_map, target.to(student_map.device), mask.to(student_map.device)))
    return torch.stack(losses).mean()
