"""The plain reference path of one distillation step, for checks and benchmarks.

Everything the optimized path avoids, done the obvious way: teachers run live
with eager attention returning the maps of every layer; the student also runs
eagerly with every map materialised; each objective gets its own backward pass
whose gradient is copied into a K×P matrix; and the combiner is applied in its
vector form (:mod:`harness.combine.reference`: explicit projections, as the
official code does AGP).
A test shows this path and the harness's (cached targets, captured layers,
Gramian weights) give the same update; benchmarks/bench_step.py times both.
"""

from __future__ import annotations

from typing import Sequence

import torch

from harness.combine.reference import vector_form
from harness.data.collate import collate_train
from harness.models import load_model
from harness.train.objectives import ObjectiveSet, StudentOutputs


def eager_copy(loaded):
    """The same model with eager attention (every layer's map returned), same weights."""
    source = loaded.source
    copy = load_model(source, attn_implementation="eager")
    copy.model.load_state_dict(loaded.model.state_dict())
    copy.name = loaded.name
    return copy


class ReferenceStep:
    """One step of the plain path for a prepared run (see :func:`harness.runner.prepare`)."""

    def __init__(self, prepared):
        self.prepared = prepared
        self.student = eager_copy(prepared.student)
        self.teachers = {k: eager_copy(t) for k, t in prepared.teachers.items()}
        for t in self.teachers.values():
            t.model.eval()
            t.model.requires_grad_(False)
        self.objectives = ObjectiveSet(prepared.recipe.spec, self.student, self.teachers)
        self.params = [p for p in self.student.model.parameters() if p.requires_grad]

    def losses(self, samples: Sequence) -> dict[str, torch.Tensor]:
        batch = collate_train(samples, self.student)
        out = self.student.model(**batch.model_inputs(with_labels=True), output_attentions=True, output_hidden_states=True)
        recorders = {d.needs: d.recorder for d in self.objectives.distill}
        outputs = StudentOutputs(ce=out.loss, taken={name: r.eager(out) for name, r in recorders.items()})
        targets = {}
        for d in self.objectives.distill:
            teacher = self.teachers[d.teacher]
            tb = collate_train(samples, teacher)
            with torch.no_grad():
                t_out = teacher.model(**tb.model_inputs(), output_attentions=True, output_hidden_states=True)
            targets[d.name] = d.recorder.targets(recorders[d.needs].eager(t_out), d.plan)
        return self.objectives.losses(outputs, batch, targets)

    def update(self, samples: Sequence, generator: torch.Generator) -> torch.Tensor:
        """The combined update vector (length P) for one micro-batch."""
        losses = self.losses(samples)
        names = list(losses)
        rows = []
        for k, name in enumerate(names):
            grads = torch.autograd.grad(losses[name], self.params, retain_graph=k < len(names) - 1, allow_unused=True)
            rows.append(torch.cat([
                (g if g is not None else torch.zeros_like(p)).reshape(-1).to(torch.float64).clone()
                for g, p in zip(grads, self.params)
            ]))
        matrix = torch.stack(rows)
        combiner = self.prepared.recipe.spec.combiner
        return vector_form(combiner.name, **combiner.options)(matrix, names, generator)


def apply_update(params: list[torch.nn.Parameter], update: torch.Tensor) -> None:
    """Write a flat update vector into the parameters' .grad."""
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = update[offset : offset + n].view_as(p).to(p.dtype).clone()
        offset += n
