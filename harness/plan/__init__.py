"""``harness plan``: per-device memory of a recipe before any GPU time (see :mod:`harness.plan.estimate`)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from harness.plan.estimate import GiB, Estimate, Placement, StepShape, place, student_training, teacher_inference
from harness.plan.sizes import ModelShape, model_shape

CAMERAS = 6  # DriveBench's six cameras, one 448×448 tile each
TEXT_TOKENS = 391  # template, question and answer of a typical DriveBench item (S ≈ 1,927 at six cameras)


@dataclass
class RecipePlan:
    """The estimates and the placement for one recipe."""

    seq_len: int
    step: StepShape
    student: Estimate
    teachers: dict[str, Estimate]  # per loaded copy
    shared: dict[str, list[str]]  # copy → the teacher keys it serves
    placement: Placement


def step_shape(recipe, student: ModelShape, teachers: dict[str, ModelShape], *, cameras: int, seq_len: int,
               gradient_checkpointing: bool | None = None) -> tuple[StepShape, dict[str, int]]:
    """The recipe's micro-batch as :class:`StepShape`, and the captured-layer count of each teacher."""
    from harness.combine import build_combiner
    from harness.signals import resolve_signal

    spec = recipe.spec
    s_view = SimpleNamespace(name=student.name, depth=student.layers)
    depths, captured, target_maps = [], set(), 0
    teacher_layers: dict[str, set[int]] = {}
    for name, obj in spec.objectives.items():
        if name == "ce":
            continue
        t = teachers[obj.teacher]
        plan = resolve_signal(obj.signal.model_dump(), s_view, SimpleNamespace(name=t.name, depth=t.layers))
        if plan.student_layers:
            depths.append(max(plan.student_layers))
            captured.update(plan.student_layers)
            target_maps += len(plan.student_layers)
            teacher_layers.setdefault(obj.teacher, set()).update(l for g in plan.teacher_groups for l in g)
    checkpointing = spec.train.gradient_checkpointing if gradient_checkpointing is None else gradient_checkpointing
    step = StepShape(
        seq_len=seq_len, images=cameras, batch=spec.train.batch_size, grad_accum=spec.train.grad_accum,
        activation_bytes=2 if spec.train.precision in ("bf16", "fp16") else student.dtype_bytes,
        per_objective=build_combiner(spec.combiner.name, **spec.combiner.options).needs_gramian and len(spec.objectives) > 1,
        objective_depths=tuple(depths), captured_layers=len(captured), target_maps=target_maps,
        gradient_checkpointing=checkpointing, live_teachers=spec.cache.mode == "live",
    )
    return step, {k: len(v) for k, v in teacher_layers.items()}


def plan_recipe(recipe, *, gpus: int = 1, gpu_memory_gb: float = 80.0, cameras: int = CAMERAS,
                seq_len: int | None = None, gradient_checkpointing: bool | None = None) -> RecipePlan:
    """Estimate ``recipe`` per device and find a placement on ``gpus`` GPUs of ``gpu_memory_gb`` each."""
    from harness.runner import model_spec, teacher_copies

    spec = recipe.spec
    student = model_shape(model_spec(spec.student, "student"))
    copies = teacher_copies(spec)
    shapes = {key: model_shape(model_spec(spec.teachers[key], f"teachers.{key}")) for key in set(copies.values())}
    by_key = {key: shapes[copies[key]] for key in spec.teachers}
    if seq_len is None:
        seq_len = cameras * student.image_tokens + TEXT_TOKENS
    step, teacher_captured = step_shape(recipe, student, by_key, cameras=cameras, seq_len=seq_len,
                                        gradient_checkpointing=gradient_checkpointing)
    shared: dict[str, list[str]] = {}
    for key, copy in copies.items():
        shared.setdefault(copy, []).append(key)
    teachers = {copy: teacher_inference(shapes[copy], step, sum(teacher_captured.get(k, 0) for k in keys))
                for copy, keys in shared.items()}
    estimate = student_training(student, step)
    placement = place(estimate, teachers, gpus=gpus, capacity=gpu_memory_gb * GiB, live_teachers=step.live_teachers)
    return RecipePlan(seq_len, step, estimate, teachers, shared, placement)


__all__ = ["RecipePlan", "plan_recipe", "step_shape", "GiB"]
