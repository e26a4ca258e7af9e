"""One run of a recipe: models, data, teacher targets, distillation, evaluation.

Order matters for the "no partial results" rule: everything that can fail
because of the user's input (recipe, weights, data, layer specs, token layouts)
is loaded and checked before the run directory is created. Only then is the
directory opened, trained into, and finally marked finished; a crash marks it
failed, Ctrl-C or SIGTERM marks it interrupted, and a SIGKILL leaves it
"running" with its last checkpoint, which ``--resume`` continues.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from tabulate import tabulate

from harness.combine.reweighted import Reweighted
from harness.data import contamination
from harness.data.selection import by_capability
from harness.devices import (accelerator_devices, default_device, describe, model_device, parse_device, place_teachers,
                             release_memory)
from harness.errors import HarnessError
from harness.files import atomic_folder
from harness.integrity import canonical_json
from harness.interrupts import sigterm_as_interrupt
from harness.models import load_model
from harness.models.base import quiet_progress
from harness.paths import cache_dir, ensure_writable, results_dir
from harness.recipe import LoadedRecipe, load_recipe
from harness.recipe.files import check_files
from harness.registry import COMBINERS, DATASETS, REWEIGHTINGS
from harness.rundir import RunDir, check_legacy, open_run, run_path
from harness.train.identity import model_identity, samples_identity, template_identity
from harness.train.loop import Trainer
from harness.train.objectives import ObjectiveSet
from harness.train.seeding import seed_everything
from harness.train.sft import ensure_sft_teacher
from harness.train.teacher_cache import TeacherCache
from harness.train.tracking import RunNaming, Tracking, flat_params

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Everything a run needs, loaded and checked, before its directory exists."""

    recipe: LoadedRecipe
    student: Any
    teachers: dict[str, Any]
    samples: list
    objectives: ObjectiveSet
    targets: TeacherCache
    combiner: Any
    generator: torch.Generator
    eval_overlap: dict | None = None  # the contamination guard's report (run.json)

    def devices(self) -> dict[str, Any]:
        """Where each model ran, for run.json's summary: ``{student: cuda:0, teachers: {KEY: …}}``
        (a released teacher keeps the device its targets were computed on)."""
        return {"student": describe(model_device(self.student.model)),
                "teachers": dict(self._teacher_devices)}

    def __post_init__(self):
        self._teacher_devices = {k: describe(model_device(t.model)) for k, t in self.teachers.items()}

    def release_teachers(self) -> None:
        """Drop the teachers once disk-mode targets are built: training reads the cache and never runs
        them, so their memory goes back (to the accelerator) before the student trains."""
        if self.targets.mode != "disk":
            return
        self.teachers = {}
        self.targets.release_teachers()
        release_memory()


def training_samples(recipe: LoadedRecipe) -> list:
    """The run's training samples: ``data.train`` built, filtered by ``capabilities``, non-empty."""
    spec = recipe.spec
    if spec.data.train is None:
        raise HarnessError(f"{recipe.source or recipe.name}: data.train: a run needs training data")
    samples = list(DATASETS.build(spec.data.train, field="data.train", file=recipe.source).train_samples())
    if not samples:
        raise HarnessError(f"{recipe.source or recipe.name}: data.train: the dataset has no training samples")
    return by_capability(samples, spec.data.train.capabilities)


def eval_overlap(recipe: LoadedRecipe, samples: list) -> dict | None:
    """The contamination guard (harness.data.contamination) against the run's evaluation data."""
    spec = recipe.spec
    if spec.data.eval is None or not spec.eval.enabled:
        return None
    items = DATASETS.build(spec.data.eval, field="data.eval", file=recipe.source).eval_items("clean")
    eval_file = str(spec.data.eval.options.get("path") or spec.data.eval.name)
    return contamination.guard(samples, items, eval_file=eval_file, allow=spec.data.allow_eval_overlap)


def _fine_tuned(recipe: LoadedRecipe, field: str, mspec, loaded, samples: list, sft_data: dict[str, list],
                progress: bool) -> Path:
    """The folder of model ``field`` (``student`` or ``teachers.KEY``) fine-tuned as its
    ``sft`` block says (built once, then cached).

    ``sft_data`` memoises the SFT datasets already loaded (three teachers usually
    share one), keyed by their canonical JSON.
    """
    sft_samples = samples
    if mspec.sft.data is not None:
        data_key = canonical_json(mspec.sft.data.model_dump())
        if data_key not in sft_data:
            dataset = DATASETS.build(mspec.sft.data, field=f"{field}.sft.data", file=recipe.source)
            sft_data[data_key] = list(dataset.train_samples())
        sft_samples = sft_data[data_key]
        if not sft_samples:
            raise HarnessError(f"{recipe.source or recipe.name}: {field}.sft.data: the dataset has no training samples")
    sft_seed = recipe.spec.seed if mspec.sft.seed is None else mspec.sft.seed
    return ensure_sft_teacher(loaded, sft_samples, mspec.sft, sft_seed, progress=progress)


def _tuned_name(mspec) -> str:
    return f"{mspec.family}:zoo/{mspec.zoo or mspec.scale or 'path'}+sft"


def _check_eval_data(recipe: LoadedRecipe) -> None:
    """Load the evaluation items once before the run folder exists, so a bad eval file
    (an image outside the data root, a repeated item) is refused before anything is written."""
    spec = recipe.spec
    if not spec.eval.enabled or spec.data.eval is None:
        return
    from harness.eval.pipeline import load_settings

    load_settings(DATASETS.build(spec.data.eval, field="data.eval", file=recipe.source), spec.eval.settings,
                  dataset_name=spec.data.eval.name, max_items=spec.eval.max_items)


def fine_tune_models(recipe: LoadedRecipe, *, progress: bool = True,
                     on_model: Callable[[str, Path, float], None] | None = None) -> dict[str, Path]:
    """Fine-tune (or find in the cache) the student and every teacher of ``recipe`` that has
    an ``sft`` block.

    Returns ``{field: HF folder}`` (``student``, ``teachers.KEY``): what `prepare` does
    for them, without a run, so a caller (the demo) can build them ahead of the runs and
    evaluate them on their own. ``on_model(field, folder, seconds)`` hears of each as it is ready.
    """
    spec = recipe.spec
    tuned = {f"teachers.{k}": t for k, t in spec.teachers.items() if t.sft is not None}
    if spec.student.sft is not None:
        tuned = {"student": spec.student, **tuned}
    samples: list = []
    if any(m.sft.data is None for m in tuned.values()):
        if spec.data.train is None:
            raise HarnessError(f"{recipe.source or recipe.name}: data.train: sft without sft.data needs training data")
        samples = training_samples(recipe)
    sft_data: dict[str, list] = {}
    folders: dict[str, Path] = {}
    for field, mspec in tuned.items():
        start = time.perf_counter()
        folders[field] = _fine_tuned(recipe, field, mspec, load_model(model_spec(mspec, field), device=default_device()),
                                     samples, sft_data, progress)
        if on_model is not None:
            on_model(field, folders[field], time.perf_counter() - start)
    return folders


def model_spec(mspec, field: str) -> dict[str, Any]:
    """The load spec of recipe model ``field`` (``student``, ``teachers.KEY``): its source fields, and
    for ``init: random`` a seed (the recipe's ``seed:``, else one derived from ``field``), so random
    models of one scale differ by role while a rerun draws the same weights."""
    spec = {k: getattr(mspec, k) for k in ("family", "scale", "path", "zoo", "init", "dtype", "trust_remote_code")}
    if mspec.init == "random":
        spec["seed"] = mspec.seed if mspec.seed is not None else zlib.crc32(field.encode()) & 0x7FFFFFFF
    if spec["path"] is not None:
        spec["path"] = str(Path(spec["path"]).expanduser().resolve())
    return spec


def teacher_copies(spec) -> dict[str, str]:
    """``{teacher key: copy key}``: teachers whose resolved source, fine-tuning and device are equal share
    one loaded copy (the first key of each group names it), as Drive-KD's code loads equal paths once."""
    first: dict[str, str] = {}
    out = {}
    for key, tspec in spec.teachers.items():
        identity = canonical_json({
            "source": model_spec(tspec, f"teachers.{key}"),
            "sft": None if tspec.sft is None else tspec.sft.model_dump(),
            "device": tspec.device,
        })
        out[key] = first.setdefault(identity, key)
    return out


def teacher_devices(recipe: LoadedRecipe, copies: dict[str, str], student_device: torch.device) -> dict[str, torch.device]:
    """The device of each teacher copy: its ``device:``, else as ``placement`` says (sized from meta models)."""
    spec = recipe.spec
    explicit = {key: parse_device(spec.teachers[key].device, field=f"teachers.{key}.device")
                for key in set(copies.values()) if spec.teachers[key].device is not None}
    keys = list(dict.fromkeys(copies.values()))
    sizes: dict[str, float] = {}
    if spec.placement == "spread":
        from harness.plan.sizes import parameter_bytes

        sizes = {key: float(parameter_bytes(model_spec(spec.teachers[key], f"teachers.{key}"))) for key in keys}
    return place_teachers(keys, student=student_device, devices=accelerator_devices(), placement=spec.placement,
                          sizes=sizes, explicit=explicit)


def prepare(recipe: LoadedRecipe, *, progress: bool = True, device: torch.device | None = None) -> Prepared:
    """Load models and data, fine-tune tiny teachers, resolve objectives, fill the teacher cache.

    Every model goes to its device before any forward: the student to ``device``
    (default: :func:`harness.devices.default_device`), each teacher copy where
    :func:`teacher_devices` puts it, so disk-mode targets are computed there too.
    """
    spec = recipe.spec
    seed_everything(spec.seed)
    check_files(recipe)
    samples = training_samples(recipe)
    overlap = eval_overlap(recipe, samples)
    device = device or default_device()
    _check_eval_data(recipe)  # every setting's items, before the run folder exists
    sft_data: dict[str, list] = {}
    student = _load(recipe, "student", spec.student, samples, sft_data, progress, device)
    copies = teacher_copies(spec)
    placed = teacher_devices(recipe, copies, device)
    loaded: dict[str, Any] = {}
    for key in placed:
        teacher = _load(recipe, f"teachers.{key}", spec.teachers[key], samples, sft_data, progress, placed[key])
        teacher.model.eval()
        for p in teacher.model.parameters():
            p.requires_grad_(False)
        loaded[key] = teacher
    teachers = {key: loaded[copies[key]] for key in spec.teachers}
    objectives = ObjectiveSet(spec, student, teachers)
    objectives.prepare(teachers)
    targets = TeacherCache(
        objectives,
        teachers,
        teacher_ids={k: model_identity(t) for k, t in teachers.items()},
        data_id=samples_identity(samples),
        template_id=template_identity(student),
        mode=spec.cache.mode,
        root=spec.cache.dir,
        progress=progress,
        controls={key: t.control for key, t in spec.teachers.items() if t.control is not None},
    )
    targets.prepare(samples)
    combiner = COMBINERS.build(spec.combiner, field="combiner", file=recipe.source)
    if spec.reweighting is not None:
        reweighting = REWEIGHTINGS.build(spec.reweighting, field="reweighting", file=recipe.source)
        proportions = {name: obj.weight for name, obj in spec.objectives.items()}
        combiner = Reweighted(combiner, reweighting, proportions)
    generator = seed_everything(spec.seed)  # SFT consumed randomness; the run starts from the recipe's seed
    return Prepared(recipe, student, teachers, samples, objectives, targets, combiner, generator, overlap)


def _load(recipe: LoadedRecipe, field: str, mspec, samples: list, sft_data: dict, progress: bool, device):
    """Model ``field`` on ``device``; with an ``sft`` block, fine-tuned there first (cached by content)."""
    source = model_spec(mspec, field)
    if mspec.sft is None:
        return load_model(source, device=device)
    folder = _fine_tuned(recipe, field, mspec, load_model(source, device=device), samples, sft_data, progress)
    tuned = load_model({"family": mspec.family, "path": str(folder), "dtype": mspec.dtype}, device=device)
    tuned.name = _tuned_name(mspec)
    return tuned


def save_student(loaded, folder: Path) -> Path:
    """The trained student as a standard HF folder (written aside, then renamed)."""
    with atomic_folder(folder) as tmp:
        with quiet_progress():
            loaded.model.save_pretrained(tmp)
            loaded.processor.save_pretrained(tmp)
    return folder


def _accelerator():
    """accelerate's view of this process: device, rank and world (one CPU process here).

    The student is deliberately not wrapped in DDP: the gradient engine averages each
    objective's gradient across ranks before the Gramian, which DDP's own reducer
    (averaging the combined gradient) would get wrong for projection combiners.
    """
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


def _share(opened, world: int):
    """Rank 0's run directory, handed to every rank."""
    if world == 1:
        return opened
    import torch.distributed as dist

    box = [opened]  # the run lock stays with rank 0 (it pickles as not held)
    dist.broadcast_object_list(box, src=0)
    return box[0]


def run_recipe(
    recipe: str | Path | LoadedRecipe,
    overrides: Iterable[str] = (),
    *,
    force: bool = False,
    resume: bool = False,
    results_root: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
    study: str | None = None,
    trial: int | None = None,
) -> RunDir:
    """Run a recipe end to end; returns its run directory (an existing finished one is a no-op).

    ``study`` and ``trial`` say which sweep trial this run is (its trackers group by them).
    """
    loaded = recipe if isinstance(recipe, LoadedRecipe) else load_recipe(recipe, overrides)
    if isinstance(recipe, LoadedRecipe) and overrides:
        loaded = loaded.with_overrides(overrides)
    root = Path(results_root) if results_root is not None else results_dir()
    ensure_writable(root, "results folder")
    ensure_writable(cache_dir(), "cache folder")
    existing = RunDir(run_path(root, loaded.name, loaded.hash, loaded.seed))
    if existing.status == "finished" and not force:
        log.info("already finished: %s (use --force to run it again)", existing.path)
        return existing
    if not force:  # before any model loads: an old-identity run of this recipe is refused at once
        check_legacy(root, recipe_name=loaded.name, config_hash=loaded.hash, legacy_hash=loaded.legacy_hash,
                     seed=loaded.seed)
    started = time.perf_counter()
    accelerator = _accelerator()
    rank, world = accelerator.process_index, accelerator.num_processes
    prepared = prepare(loaded, progress=progress and rank == 0, device=accelerator.device)
    prepared.release_teachers()
    opened = None
    if rank == 0:
        opened = open_run(root, recipe_name=loaded.name, config_hash=loaded.hash, seed=loaded.seed,
                          resolved_yaml=loaded.to_yaml(), force=force, resume=resume,
                          legacy_hash=loaded.legacy_hash)
    opened = _share(opened, world)
    run = opened.run
    if opened.existing:  # finished by another process while this one prepared
        log.info("already finished: %s (use --force to run it again)", run.path)
        return run
    tracking = Tracking()
    try:
        with sigterm_as_interrupt():
            if rank == 0:
                tracking = _open_tracking(loaded, run, root, study, trial)
            trainer = Trainer(
                student=prepared.student, objectives=prepared.objectives, targets=prepared.targets,
                samples=prepared.samples, train_spec=loaded.spec.train, combiner=prepared.combiner,
                generator=prepared.generator, seed=loaded.seed, run=run, progress=progress,
                rank=rank, world=world, log=tracking.around(run.log) if tracking else None,
            )
            result = trainer.train(resume=opened.resumed)
            if rank != 0:  # rank 0 writes the results; the others are done
                return run
            save_student(prepared.student, run.student_dir)
            summary: dict[str, Any] = {
                "steps": result.steps,
                "skipped_steps": result.skipped_steps,
                "skipped_micro_batches": result.skipped_micro_batches,
                "train_samples": len(prepared.samples),
                "eval_overlap": prepared.eval_overlap,
                "train_seconds": round(result.seconds, 3),
                "teacher_forward_seconds": round(prepared.targets.teacher_seconds, 3),
                "final_losses": result.last_losses,
                "objectives": prepared.objectives.names,
                "resumed_from_step": result.resumed_from,
                "devices": prepared.devices(),
            }
            if evaluate:
                summary["eval"] = _evaluate(loaded, prepared.student, run, progress)
                tracking.log_eval(summary["eval"], step=result.steps)
            summary["seconds"] = round(time.perf_counter() - started, 3)
            run.finish(summary=summary)
    except KeyboardInterrupt as exc:
        run.interrupt(f"interrupted ({exc or 'Ctrl-C'}); continue with --resume")
        raise
    except HarnessError as exc:
        run.fail(str(exc))
        raise
    except Exception as exc:
        run.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        tracking.close()
        opened.release()
    log.info("%s", summary_table(run))
    if evaluate:
        _refuse_without_verdicts(run)
    return run


def _open_tracking(recipe: LoadedRecipe, run: RunDir, root: Path, study: str | None, trial: int | None) -> Tracking:
    """The recipe's trackers for this run, told the resolved recipe, its hash and the trial."""
    params = {**flat_params(recipe.resolved), "config_hash": recipe.hash, "run_dir": str(run.path)}
    if study is not None:
        params.update(study=study, trial=trial)
    naming = RunNaming.of(recipe.name, run.path.name, study=study, trial=trial)
    return Tracking.open(recipe.spec.train.trackers, params=params, naming=naming, results_root=root)


def _refuse_without_verdicts(run: RunDir) -> None:
    """A finished run whose judge gave no verdict at all ends non-zero, saying how to fill them in."""
    from harness.eval.rejudge import NoVerdicts, verdicts_missing

    problem = verdicts_missing(run)
    if problem is not None:
        raise NoVerdicts(problem)


def _evaluate(recipe: LoadedRecipe, student, run: RunDir, progress: bool) -> dict[str, Any]:
    """Evaluation after training, when the recipe has eval data."""
    from harness.eval.api import evaluate_run

    spec = recipe.spec
    if not spec.eval.enabled or spec.data.eval is None:
        return {"status": "skipped (no data.eval or eval.enabled is false)"}
    return evaluate_run(recipe, student, run, progress=progress)


def summary_table(run: RunDir) -> str:
    """The closing lines of a run: folder, status, steps, time, final losses, eval scores."""
    info = run.info()
    summary = info.get("summary", {})
    rows = [
        ["run", str(run.path)],
        ["status", info.get("status")],
        ["steps", f"{summary.get('steps')} ({summary.get('skipped_steps', 0)} skipped)"],
        ["time", f"{summary.get('seconds', 0):.1f} s (train {summary.get('train_seconds', 0):.1f} s, "
                 f"teacher forwards {summary.get('teacher_forward_seconds', 0):.1f} s)"],
    ]
    for name, value in (summary.get("final_losses") or {}).items():
        rows.append([f"loss {name}", f"{value:.4g}"])
    eval_info = summary.get("eval") or {}
    for key, value in eval_info.items():
        rows.append([f"eval {key}", value])
    return tabulate(rows, tablefmt="simple")
