"""The demo's first stage: build the tiny zoo and the data, find every family's teacher
(shipped with the repository, or fine-tuned) and pretrain its student where the demo asks
for it, and evaluate them on their own.

Why on their own: the report needs the teachers' scores (Table 1's large-model rows,
and the check that they use the image: clean vs text-only), and the pretrained
student's (the row every method starts from). Each family is one process, so the two
families' fine-tuning runs side by side on two cores; every artefact is cached by
content, so the sweep's runs then find their teachers and student ready.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """One family's fine-tuned models and their evaluation directories."""

    family: str
    folders: dict[str, str]  # student / teacher → HF folder
    evals: dict[str, str]  # student / teacher → results/…/evals/<model>/<hash8>
    seconds: float


def _datasets(ablation) -> list[Any]:
    """Every distinct synthetic dataset the demo's recipes name (data, and each sft.data)."""
    from harness.integrity import canonical_json

    seen: dict[str, Any] = {}
    for variant in ablation.spec.variants:
        spec = ablation.recipe(variant, {}, ablation.seeds[0]).spec
        parts = [("data.train", spec.data.train), ("data.eval", spec.data.eval)]
        parts += [("student.sft.data", spec.student.sft.data if spec.student.sft else None)]
        parts += [(f"teachers.{k}.sft.data", t.sft.data if t.sft else None) for k, t in spec.teachers.items()]
        for field, component in parts:
            if component is not None:
                seen.setdefault(canonical_json(component.model_dump()), (field, component))
    return list(seen.values())


def build_inputs(ablation_file: str, index: int, workers: int) -> float:
    """Build the zoo (worker 0) and every ``workers``-th dataset of the demo; returns seconds."""
    from harness import components  # noqa: F401  (registries)
    from harness.demo.plan import FAMILIES
    from harness.models.zoo import build_zoo
    from harness.registry import DATASETS
    from harness.sweep.ablation import load_ablation
    from harness.devices import torch_threads

    with torch_threads(1):
        start = time.perf_counter()
        ablation = load_ablation(ablation_file)
        if index == 0:
            build_zoo(families=list(FAMILIES))
        for field, component in _datasets(ablation)[index::workers]:
            dataset = DATASETS.build(component, field=field, file=ablation_file)
            dataset.build()
        return time.perf_counter() - start


def _evaluate(folder: str, recipe, results_root: Path) -> str:
    from harness.eval.api import evaluate

    spec = recipe.spec
    if spec.data.eval is None:
        raise HarnessError(f"{recipe.name}: data.eval: the demo evaluates its teachers on the recipe's eval data")
    run = evaluate(
        folder, spec.data.eval.name, settings=spec.eval.settings, judge=spec.eval.judge.name,
        judge_options=spec.eval.judge.options, data_options=spec.data.eval.options,
        batch_size=spec.eval.batch_size, max_new_tokens=spec.eval.max_new_tokens, max_items=spec.eval.max_items,
        system_prompt=spec.eval.system_prompt, results_root=results_root, progress=False,
    )
    return str(run.path)


def shipped_teachers(recipe) -> dict[str, Path]:
    """``{teachers.KEY: folder}`` of the recipe's teachers loaded by ``path`` (the demo's shipped
    teachers, harness/demo/teachers.py), each checked against its checksums first."""
    from harness.demo.teachers import check_teacher

    return {f"teachers.{key}": check_teacher(Path(t.path)) for key, t in recipe.spec.teachers.items()
            if t.path is not None and t.sft is None}


def prepare_family(ablation_file: str, family: str, variant: str, results_root: str, threads: int) -> Prepared:
    """Fine-tune ``variant``'s student and teachers (cached) where they have an ``sft`` block, check
    its shipped teachers, and evaluate each once."""
    from harness import components  # noqa: F401
    from harness.runner import fine_tune_models
    from harness.sweep.ablation import load_ablation
    from harness.devices import torch_threads

    with torch_threads(threads):
        start = time.perf_counter()
        ablation = load_ablation(ablation_file)
        recipe = ablation.recipe(variant, {}, ablation.seeds[0])

        def say(line: str) -> None:
            log.info("demo [2/5]   %s: %s", family, line)

        began = time.time()

        def ready(field: str, folder: Path, seconds: float) -> None:
            what = "student pretrained" if field == "student" else f"{field} fine-tuned"
            built = folder.stat().st_mtime >= began  # the folder is renamed into place when it is built
            say(f"{what} in {seconds:.0f} s ({'built' if built else 'cached'}: {folder.name})")

        tuned = shipped_teachers(recipe)
        if recipe.spec.student.sft is not None or any(t.sft is not None for t in recipe.spec.teachers.values()):
            say("fine-tuning (cached by content; a few minutes on one core the first time) …")
            tuned.update(fine_tune_models(recipe, progress=False, on_model=ready))
        folders: dict[str, str] = {}
        for field, folder in tuned.items():
            role = "student" if field == "student" else "teacher"
            if role in folders and folders[role] != str(folder):
                raise HarnessError(f"{ablation_file}: variants.{variant}: the demo expects one fine-tuned teacher per "
                                   f"family, got {folders[role]} and {folder}")
            folders[role] = str(folder)
        evals = {}
        for role, folder in folders.items():
            t = time.perf_counter()
            evals[role] = _evaluate(folder, recipe, Path(results_root))
            say(f"{role} evaluated in {time.perf_counter() - t:.0f} s → {evals[role]}")
        return Prepared(family, folders, evals, time.perf_counter() - start)
