"""`harness demo`: the mini Drive-KD paper, end to end, on the embedded default.

Five stages, each timed and reported:

1. inputs: the tiny zoo and every synthetic dataset the demo names (built once, cached);
2. models: per family, in parallel, the teacher (shipped and checked, or fine-tuned) and
   the pretrained student where the study has one, each evaluated on its own in the
   study's settings;
3. students: the demo study (ablations/tiny/demo.yaml, or ``--ablation``) through the sweep, two workers:
   every method × family × seed is an ordinary run directory, evaluated after training;
4. mechanism: per family, in parallel, the teacher's and each method's (first seed's)
   text-to-vision maps on the same held-out items (harness/demo/mechanism.py);
5. report: results/demo/report.md (+ .tex, .html, findings.json, figures/, tables/*.csv).

Everything lands under one folder (``results/demo`` by default). Finished runs and
evaluations are reused, so running the demo again redoes only what is missing and
rewrites the report from what is there.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import yaml

from harness.demo.mechanism import ITEMS as MECHANISM_ITEMS, LAYERS as MECHANISM_LAYERS, TEACHER_LABEL, System
from harness.demo.mechanism import is_current, measure_family, mechanism_key, read_rows, result_file
from harness.demo.models import Prepared, build_inputs, prepare_family
from harness.demo.plan import DEMO_ABLATION, FAMILIES, QUICK_MECHANISM_ITEMS, REFERENCE_VARIANT, DemoPlan, effective_ablation, families
from harness.demo.report import PRETRAINED, TEACHER, stamp, write_report
from harness.files import atomic_write_text
from harness.logs import records_from_workers, send_records_to
from harness.paths import REPO_ROOT, results_dir


log = logging.getLogger(__name__)

#: The demo's stand-alone evaluations (teachers, pretrained students) by folder → their report label.
LABELS_FILE = "labels.json"


@contextmanager
def _pool(n: int):
    """``n`` worker processes whose log records come back to this process's loggers.

    spawn: a fresh interpreter per worker (no forked torch thread pools).
    """
    context = multiprocessing.get_context("spawn")
    with records_from_workers(context) as queue, ProcessPoolExecutor(
            max_workers=n, mp_context=context, initializer=send_records_to, initargs=(queue,)) as pool:
        yield pool


def build_demo_teachers(*, workers: int = 2) -> list[Path]:
    """Rebuild every family's shipped demo teacher (harness/demo/teachers.py), families in parallel."""
    from harness.demo.teachers import build_teacher

    with _pool(max(1, min(workers, len(FAMILIES)))) as pool:
        return list(pool.map(build_teacher, FAMILIES))


def plan_demo(*, quick: bool = False, workers: int = 2, out: str | Path | None = None,
              ablation: str | Path | None = None) -> DemoPlan:
    """Where the demo writes, and its effective ablation file (written there).

    The study is named after the ablation's fingerprint (``tiny_demo-<hash8>``): a demo
    file edited since the last run makes a new study in the same storage instead of
    clashing with the old one, and every run both versions share is reused.
    """
    from harness.sweep.ablation import load_ablation

    source = Path(ablation) if ablation is not None else DEMO_ABLATION
    if not source.is_file():
        from harness.errors import HarnessError

        raise HarnessError(f"{source}: no such demo ablation file")
    name = "demo" if source.resolve() == DEMO_ABLATION.resolve() else f"demo-{source.stem}"
    root = Path(out) if out is not None else results_dir() / (f"{name}-quick" if quick else name)
    root.mkdir(parents=True, exist_ok=True)
    data = effective_ablation(source, quick=quick)
    ablation = root / "ablation.yaml"
    header = f"# written by `harness demo` from {source}\n"
    atomic_write_text(ablation, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    data["name"] = f"{data['name']}-{load_ablation(ablation).fingerprint()[:8]}"
    atomic_write_text(ablation, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return DemoPlan(ablation=ablation, out=root, quick=quick, workers=max(1, workers), source=source)


def run_demo(*, quick: bool = False, workers: int = 2, out: str | Path | None = None,
             echo: Callable[[str], None] | None = None, ablation: str | Path | None = None) -> dict[str, Path]:
    """Run every stage; returns the files the report wrote (``md``, ``tex``, ``html``, …).

    Each stage's lines go to ``echo`` (default: this module's logger, which the CLI prints).
    """
    echo = echo or (lambda line: log.info("%s", line))
    from harness.sweep.ablation import load_ablation
    from harness.sweep.study import sweep

    started = time.perf_counter()
    plan = plan_demo(quick=quick, workers=workers, out=out, ablation=ablation)
    ablation = load_ablation(plan.ablation)  # checks every variant before anything runs
    fams = families(yaml.safe_load(plan.ablation.read_text()))
    timings: dict[str, float] = {}

    echo(f"demo [1/5] the tiny zoo and the synthetic data → {plan.out}")
    t = time.perf_counter()
    with _pool(plan.workers) as pool:
        list(pool.map(build_inputs, [str(plan.ablation)] * plan.workers, range(plan.workers),
                      [plan.workers] * plan.workers))
    timings["inputs"] = time.perf_counter() - t
    echo(f"demo [1/5] done in {timings['inputs']:.0f} s")

    echo(f"demo [2/5] the teachers (and any pretrained students) of {', '.join(fams)} "
         "(in parallel), then evaluating each")
    t = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // max(1, len(fams)))
    with _pool(max(1, len(fams))) as pool:
        futures = [pool.submit(prepare_family, str(plan.ablation), f, REFERENCE_VARIANT.format(family=f),
                               str(plan.out), threads) for f in fams]
        prepared: list[Prepared] = [f.result() for f in futures]
    timings["models"] = time.perf_counter() - t
    echo(f"demo [2/5] done in {timings['models']:.0f} s")

    n_runs = len(ablation.spec.variants) * len(ablation.seeds)
    echo(f"demo [3/5] {n_runs} student runs ({len(ablation.spec.variants)} variants: methods × families; "
         f"{len(ablation.seeds)} seeds each) with {plan.workers} workers")
    t = time.perf_counter()
    result = sweep(plan.ablation, workers=plan.workers, results_root=plan.out, inline_trials=True)
    timings["students"] = time.perf_counter() - t
    failed = {k: v for k, v in result.counts.items() if k in ("fail", "failed", "pruned") and v}
    echo(f"demo [3/5] done in {timings['students']:.0f} s")
    if failed:
        from harness.errors import HarnessError

        raise HarnessError(f"demo: {failed} trial(s) of study {result.study} did not finish; their logs are under "
                           f"{plan.out / 'sweeps' / result.study / 'logs'}")

    echo(f"demo [4/5] the mechanism: each family's teacher and students, text-to-vision maps on held-out items")
    t = time.perf_counter()
    measure_mechanism(plan, ablation, result.study, prepared, threads)
    timings["mechanism"] = time.perf_counter() - t
    echo(f"demo [4/5] done in {timings['mechanism']:.0f} s")

    echo("demo [5/5] the report")
    t = time.perf_counter()
    labels = {}
    for p in prepared:
        labels[p.evals["teacher"]] = TEACHER
        if "student" in p.evals:  # a demo whose students start from the zoo has no pretrained row
            labels[p.evals["student"]] = PRETRAINED
    # kept beside the runs, so the report's tables can be drawn again from the folder alone
    atomic_write_text(plan.out / LABELS_FILE, json.dumps({str(k): v for k, v in labels.items()}, indent=2))
    spec = ablation.recipe(REFERENCE_VARIANT.format(family=fams[0]), {}, ablation.seeds[0]).spec
    settings = list(spec.eval.settings)
    timings["report"] = 0.0
    about = _about(plan, ablation, spec, fams, timings, started)
    mechanism = read_rows(plan.out, fams)
    table = ablation.spec.table
    metrics = tuple(table.metrics) if table is not None and table.metrics else None
    written = write_report(plan.out, ablation.name, labels, about=about, settings=settings, mechanism=mechanism,
                           metrics=metrics)
    timings["report"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    atomic_write_text(plan.out / "timings.json", json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=2))
    echo(f"demo [5/5] done in {timings['report']:.0f} s; total {timings['total'] / 60:.1f} min")
    echo(f"demo: report in {written['md']} (and {written['html'].name}, {written['tex'].name}, figures/)")
    return written


def mechanism_systems(collected, family: str) -> list[System]:
    """Each method's first-seed run of ``family`` among ``collected`` runs (with its trained student), in run order."""
    from harness.rundir import RunDir

    first: dict[str, tuple[int, str]] = {}
    for run_id, path in zip(collected.runs["run_id"], collected.runs["run_path"]):
        if collected.value_of(run_id, "student.family") != family:
            continue
        label = collected.value_of(run_id, "description") or run_id
        seed = int(collected.value_of(run_id, "seed") or 0)
        student = RunDir(Path(path)).student_dir
        if student.is_dir() and (label not in first or seed < first[label][0]):
            first[label] = (seed, str(student))
    return [System(label, folder) for label, (_, folder) in first.items()]


def measure_mechanism(plan: DemoPlan, ablation, study: str, prepared: list[Prepared], threads: int) -> None:
    """The mechanism stage: a worker per family whose rows are missing or stale (harness/demo/mechanism.py).

    ``ablation``: the loaded demo study (:func:`harness.sweep.ablation.load_ablation`)."""
    from harness.report.collect import collect

    collected = collect(plan.out, study=study)
    n_items = QUICK_MECHANISM_ITEMS if plan.quick else MECHANISM_ITEMS
    jobs = []
    for p in prepared:
        spec = ablation.recipe(REFERENCE_VARIANT.format(family=p.family), {}, ablation.seeds[0]).spec
        args = (str(plan.out), p.family, System(TEACHER_LABEL, p.folders["teacher"]),
                mechanism_systems(collected, p.family), spec.data.eval.model_dump())
        if is_current(result_file(plan.out, p.family), mechanism_key(*args[1:], n_items, MECHANISM_LAYERS)):
            log.info("demo [4/5]   %s: unchanged since the last demo, its mechanism rows are reused", p.family)
        else:
            jobs.append(args)
    if not jobs:
        return
    with _pool(len(jobs)) as pool:
        futures = [pool.submit(measure_family, *args, n_items=n_items, layers=MECHANISM_LAYERS, threads=threads)
                   for args in jobs]
        for f in futures:
            f.result()


def _about(plan: DemoPlan, ablation, spec, fams, timings: dict[str, float], started: float) -> dict:
    """The report's introduction and its 'how this was made' list."""
    n_items = spec.data.eval.options.get("eval")
    try:
        source = plan.source.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:  # a study file outside the checkout
        source = str(plan.source)
    intro = (
        f"{'A quick (test-sized) run of the demo: every size is cut down, so no number here means anything. ' if plan.quick else ''}"
        f"Everything below was produced by `harness demo` on this machine from nothing but this checkout: a tiny "
        f"offline model zoo (families {', '.join(fams)}), a synthetic DriveBench-format driving benchmark "
        f"({n_items} evaluation items per setting) and the study `{source}`. Closed questions are scored by ranking "
        "the options' likelihoods and by parsing the generated answer, open ones by the offline "
        f"`{spec.eval.judge.name}` judge. The models have a few hundred thousand parameters, so the numbers are this "
        "setting's, not the paper's; the tests say which differences this data can and cannot support.")
    elapsed = time.perf_counter() - started
    how = [
        f"- Made {stamp()} by `harness demo{' --quick' if plan.quick else ''}` ({plan.workers} workers, "
        f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}).",
        f"- Study: `{ablation.name}` (`{plan.ablation.name}`, from `{source}`), {len(ablation.spec.variants)} variants × "
        f"seeds {', '.join(str(s) for s in ablation.seeds)}; run directories under `runs/`, stand-alone "
        "evaluations under `evals/`, sweep logs under `sweeps/`.",
        f"- Stage times: inputs {timings.get('inputs', 0):.0f} s, teachers (and any pretrained students) "
        f"{timings.get('models', 0):.0f} s, student runs {timings.get('students', 0):.0f} s; "
        f"{elapsed / 60:.1f} min before the report (the total, report included, is in `timings.json`).",
        "- Re-draw any table with `harness report`, e.g. "
        f"`harness report {plan.ablation} --results {plan.out}`.",
    ]
    return {"intro": intro, "how": how, "steps": student_steps(spec)}


def student_steps(spec) -> int | None:
    """Optimizer steps of one student run (None when the training data's size is not an option)."""
    import math

    n = (spec.data.train.options if spec.data.train is not None else {}).get("train")
    if not isinstance(n, int):
        return spec.train.max_steps
    steps = math.ceil(n / (spec.train.batch_size * spec.train.grad_accum)) * spec.train.epochs
    return min(steps, spec.train.max_steps) if spec.train.max_steps else steps
