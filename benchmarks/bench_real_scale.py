"""Drive-KD's step and evaluation at the real InternVL3 shapes, part by part, with random weights.

    # CPU: InternVL3-1B student, one distinct random 1B teacher stand-in (targets cached before timing)
    .venv/bin/python benchmarks/bench_real_scale.py [--cameras 6] [--rounds 10] [--optimizer adamw]

    # GPU (one H200-class device, < 8 minutes): 1B student, three distinct random 8B teachers (live),
    # then generation throughput of InternVL3-1B and 8B
    python benchmarks/bench_real_scale.py --device cuda

Variants (interleaved in one process, A B C / B C A / …, at least ``--rounds`` timed
steps each, see benchmarks/timing.py): ``sft`` (CE only, one backward), ``sum`` (all
objectives, one backward of the weighted sum), ``agp`` (K per-objective backwards,
the chunked Gramian, AGP weights; the embedding table's K gradients kept as their
non-zero rows, as training does) and, on request, ``agp_dense`` (the same with a whole
table per objective, to measure what the rows save). Each step is timed by part: teacher forward (live
teachers only), student forward (with captured maps and the losses), backward(s),
Gramian + combiner weights, update (combination, optimizer step). Peak memory per
step: process RSS on CPU; allocated and reserved on CUDA. The ``harness plan``
estimate of the same step is printed beside the measured peak.

Protocol: batch 1, one 448×448 tile per camera, DriveBench-like text (≈ 391 tokens),
the weights' dtype from ``--dtype`` (float32 on CPU, bfloat16 on CUDA), Drive-KD's
three signals (first-layer and penultimate text-to-vision, full attention of layers
first..penultimate with group matching), AdamW unless ``--optimizer`` says otherwise.

On a GPU machine without this project's environment the script first checks its
imports; anything missing (and the harness itself) is installed with ``--no-deps``
from the wheels in ``benchmarks/wheels/`` (git-ignored; ``--fetch-wheels`` fills it on
a machine with a package index), so no index is needed on the GPU machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = Path(__file__).resolve().parent / "wheels"
# import name → distribution name: what the benchmark's code path imports
REQUIRED = {
    "torch": "torch", "transformers": "transformers", "tokenizers": "tokenizers", "safetensors": "safetensors",
    "numpy": "numpy", "PIL": "pillow", "yaml": "pyyaml", "jinja2": "jinja2", "markupsafe": "markupsafe",
    "tqdm": "tqdm", "psutil": "psutil", "tabulate": "tabulate", "pydantic": "pydantic",
    "pydantic_core": "pydantic-core", "annotated_types": "annotated-types", "typing_inspection": "typing-inspection",
    "typing_extensions": "typing-extensions",
}
FETCHABLE = [d for d in REQUIRED.values() if d not in ("torch", "transformers", "tokenizers", "numpy")]
TEXT = ("Consider the six camera views of the ego vehicle. " * 20).strip()
ANSWER = ("The ego vehicle should keep its lane and slow down because a pedestrian may cross ahead. " * 4).strip()


# -- environment ------------------------------------------------------------------------

def missing_modules() -> list[str]:
    """Distributions whose import fails here (the harness itself is checked separately)."""
    missing = []
    for module, dist in REQUIRED.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(dist)
    return missing


def bootstrap(*, install: bool) -> None:
    """Make ``import harness`` and its dependencies work; with ``install``, from ``benchmarks/wheels`` offline."""
    missing = missing_modules()
    if missing and install:
        if "torch" in missing or "transformers" in missing:
            raise SystemExit(f"bench_real_scale: torch and transformers must come with the machine (missing: {missing})")
        if not WHEELS.is_dir():
            raise SystemExit(f"bench_real_scale: missing {', '.join(missing)} and no {WHEELS} "
                             "(run --fetch-wheels on a machine with a package index)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--find-links", str(WHEELS),
                        *missing], check=True)
        importlib.invalidate_caches()
        missing = missing_modules()
    if missing:
        raise SystemExit(f"bench_real_scale: missing modules: {', '.join(missing)}")
    try:
        importlib.import_module("harness.plan")
    except ImportError:
        if install:
            done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                                   "--no-build-isolation", str(ROOT)], capture_output=True, text=True)
            if done.returncode != 0:  # no setuptools offline: import from the checkout instead
                print("bench_real_scale: pip could not install the harness; importing it from the checkout", flush=True)
        sys.path.insert(0, str(ROOT))
        importlib.invalidate_caches()
        importlib.import_module("harness.plan")


def fetch_wheels(pythons: list[str]) -> int:
    """Download the pure and binary wheels the GPU machine may lack, for each Python version."""
    WHEELS.mkdir(exist_ok=True)
    for version in pythons:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest",
                        str(WHEELS), "--python-version", version, "--platform", "manylinux2014_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux_2_28_x86_64", *FETCHABLE],
                       check=True)
    size = sum(f.stat().st_size for f in WHEELS.iterdir())
    print(f"{len(list(WHEELS.iterdir()))} wheels, {size / 2**20:.1f} MiB in {WHEELS}")
    return 0


# -- measuring --------------------------------------------------------------------------

def sources(args) -> tuple[str, str]:
    """(student, teacher) source fields: the real scales, or the tiny zoo's shapes (``--shape zoo``,
    a quick check of the script itself)."""
    if args.shape == "zoo":
        return "zoo: student", "zoo: teacher_l"
    return "scale: 1b", "scale: 8b" if args.device == "cuda" else "scale: 1b"


def recipe_text(args) -> str:
    student, teacher = sources(args)
    keys = ["perception_teacher", "reasoning_teacher", "planning_teacher"] if args.device == "cuda" else ["teacher"] * 3
    teachers = "\n".join(f"  {k}: {{family: internvl3, {teacher}, init: random, dtype: {args.dtype}}}"
                         for k in dict.fromkeys(keys))
    return f"""\
name: bench_real_scale
student: {{family: internvl3, {student}, init: random, dtype: {args.dtype}}}
teachers:
{teachers}
objectives:
  ce: {{weight: 1.0}}
  perception: {{teacher: {keys[0]}, signal: {{attention: text_to_vision, layers: first}}, loss: mse}}
  reasoning: {{teacher: {keys[1]}, signal: {{attention: full, layers: {{start: 0, end: -2}}, matching: group}}, loss: mse}}
  planning: {{teacher: {keys[2]}, signal: {{attention: text_to_vision, layers: penultimate}}, loss: mse}}
combiner: {{name: agp, anchor: ce}}
cache: {{mode: live}}
train: {{batch_size: 1, grad_accum: 1, gradient_checkpointing: {str(args.gradient_checkpointing).lower()}}}
"""


def images(folder: Path, cameras: int) -> list[str]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(cameras):
        path = folder / f"cam{i}.png"
        Image.fromarray(rng.integers(0, 255, (448, 448, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


class Bench:
    """Models, objectives and one micro-batch, and a step function per variant."""

    def __init__(self, args, folder: Path):
        import torch

        from harness.combine import build_combiner
        from harness.combine.row_sparse import embedding_tables, table_positions
        from harness.data.collate import collate_train
        from harness.data.types import TrainSample
        from harness.recipe import load_recipe
        from harness.runner import model_spec, teacher_copies
        from harness.models import load_model
        from harness.train.objectives import ObjectiveSet
        from harness.train.recompute import enable_gradient_checkpointing
        from harness.train.teacher_cache import TeacherCache

        self.torch, self.device, self.args = torch, torch.device(args.device), args
        path = folder / "recipe.yaml"
        path.write_text(recipe_text(args))
        self.recipe = load_recipe(path)
        spec = self.recipe.spec
        started = time.perf_counter()
        self.student = load_model(model_spec(spec.student, "student"), device=self.device)
        copies = teacher_copies(spec)
        loaded = {k: load_model(model_spec(spec.teachers[k], f"teachers.{k}"), device=self.device)
                  for k in dict.fromkeys(copies.values())}
        self.teachers = {k: loaded[copies[k]] for k in spec.teachers}
        for t in loaded.values():
            t.model.requires_grad_(False)
        print(f"models: student {self.student.name}, teachers {', '.join(t.name for t in loaded.values())} "
              f"({len(loaded)} distinct copies) on {self.device} in {time.perf_counter() - started:.0f} s", flush=True)
        self.objectives = ObjectiveSet(spec, self.student, self.teachers)
        self.cache = TeacherCache(self.objectives, self.teachers, teacher_ids={k: k for k in self.teachers},
                                  data_id="bench", template_id="bench", mode="live", progress=False)
        sample = TrainSample("bench-0", tuple(images(folder, args.cameras)), TEXT, ANSWER, "planning")
        self.samples = [sample]
        self.batch = collate_train(self.samples, self.student).to(self.device)
        self.seq_len = int(self.batch.input_ids.shape[1])
        model = self.student.model
        model.train()
        if args.gradient_checkpointing:
            enable_gradient_checkpointing(model)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.tables = table_positions(self.params, embedding_tables(model))
        self.combiner = build_combiner("agp", anchor="ce")
        self.sum = build_combiner("sum")
        self.generator = torch.Generator().manual_seed(0)
        if args.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(self.params, lr=1e-6)
        elif args.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(self.params, lr=1e-6)
        else:
            self.optimizer = None
        self.cached = None
        if args.device == "cpu":  # cached teachers: targets once, teachers released (as disk mode does)
            begin = time.perf_counter()
            self.cached = {k: [t.half() for t in v] for k, v in self.cache.for_batch(self.samples, self.batch).items()}
            self.teacher_seconds = time.perf_counter() - begin
            self.teachers.clear()
            self.cache.teachers = {}
            del loaded
            import gc

            gc.collect()
        self.timed_parts: dict[str, float] = {}
        self.estimates: dict[str, float] = {}  # variant → plan GiB (fixed for the run; meta models are not free)

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def part(self, name: str, fn):
        self.sync()
        begin, cpu_begin = time.perf_counter(), time.process_time()
        out = fn()
        self.sync()
        self.timed_parts[name] = self.timed_parts.get(name, 0.0) + time.perf_counter() - begin
        self.cpu_parts[name] = self.cpu_parts.get(name, 0.0) + time.process_time() - cpu_begin
        return out

    def targets(self):
        if self.cached is not None:
            return {k: [t.float() for t in v] for k, v in self.cached.items()}
        return self.part("teacher forward", lambda: self.cache.for_batch(self.samples, self.batch))

    def step(self, variant: str) -> dict:
        from harness.combine.gradients import add_combination, blockwise_gramian, per_objective_gradients

        torch = self.torch
        self.timed_parts, self.cpu_parts = {}, {}
        cpu_begin = time.process_time()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        from timing import PeakRSS, release_freed_memory

        rss = PeakRSS() if self.device.type == "cpu" else None
        if rss:
            release_freed_memory()
            before = rss.process.memory_info().rss
            rss.__enter__()
        begin = time.perf_counter()
        if variant == "sft":
            loss = self.part("student forward", lambda: self.student.model(**self.batch.model_inputs(with_labels=True)).loss)
            self.part("backward", lambda: loss.backward())
        else:
            targets = self.targets()

            def forward():
                outputs = self.objectives.forward_student(self.batch)
                return self.objectives.losses(outputs, self.batch, targets)

            losses = self.part("student forward", forward)
            if variant == "sum":
                weights = self.sum.static_weights(list(losses))
                total = sum(float(w) * l for w, l in zip(weights.tolist(), losses.values()))
                self.part("backward", lambda: total.backward(inputs=self.params))
            else:
                tables = self.tables if variant == "agp" else ()  # agp_dense: whole tables per objective
                grads = self.part("backwards (K)",
                                  lambda: per_objective_gradients(losses, self.params, row_sparse=tables))
                del losses
                gram = self.part("gramian + weights", lambda: blockwise_gramian(grads, self.params))
                weights = self.combiner(gram.cpu(), self.objectives.names, self.generator)
                self.part("update", lambda: add_combination(grads, self.params, weights, release=True))
                del grads

        def update():
            if self.optimizer is not None:
                self.optimizer.step()
            for p in self.params:
                p.grad = None

        self.part("update", update)
        self.sync()
        seconds = time.perf_counter() - begin
        record = {"seconds": seconds, "cpu_seconds": time.process_time() - cpu_begin,
                  "parts": dict(self.timed_parts), "cpu_parts": dict(self.cpu_parts)}
        if rss:
            rss.__exit__(None, None, None)
            record["peak_gib"] = rss.peak / 2**30
            record["step_gib"] = (rss.peak - before) / 2**30
        else:
            record["peak_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
            record["reserved_gib"] = torch.cuda.max_memory_reserved(self.device) / 2**30
        return record

    def estimate_gib(self, variant: str) -> float:
        """``harness plan``'s estimate of this step's peak (the teachers' and the optimizer's share as configured)."""
        if variant not in self.estimates:
            self.estimates[variant] = self._estimate_gib(variant)
        return self.estimates[variant]

    def _estimate_gib(self, variant: str) -> float:
        from harness.plan import step_shape
        from harness.plan.estimate import GiB, student_training, teacher_inference
        from harness.plan.sizes import model_shape
        from harness.runner import model_spec, teacher_copies

        spec = self.recipe.spec
        student = model_shape(model_spec(spec.student, "student"))
        shapes = {k: model_shape(model_spec(spec.teachers[k], f"teachers.{k}")) for k in spec.teachers}
        step, captured = step_shape(self.recipe, student, shapes, cameras=self.args.cameras, seq_len=self.seq_len)
        if variant not in ("agp", "agp_dense"):
            step = type(step)(**{**step.__dict__, "per_objective": False})
        if variant == "agp_dense":
            step = type(step)(**{**step.__dict__, "row_sparse_tables": False})
        if variant == "sft":
            step = type(step)(**{**step.__dict__, "objective_depths": (), "captured_layers": 0, "target_maps": 0})
        est = student_training(student, step)
        parts = dict(est.parts)
        parts["optimizer (AdamW)"] *= {"adamw": 1.0, "sgd": 0.0, "none": 0.0}[self.args.optimizer]
        total = sum(parts.values())
        if self.cached is None:  # live teachers stay resident
            copies = teacher_copies(spec)
            total += sum(teacher_inference(shapes[c], step, captured.get(c, 0)).total for c in set(copies.values()))
        return total / GiB


def logged_step(bench: Bench, variant: str) -> dict:
    """One timed step, announced before and summarised after it, so a run that stops itself
    (``--max-rss-gib``) or is stopped still says which step was running and what the finished
    ones measured."""
    print(f"step {variant} …", flush=True)
    record = bench.step(variant)
    print(f"step {variant}: {record['seconds']:.1f} s (CPU {record['cpu_seconds']:.1f} s), peak {record['peak_gib']:.2f} GiB, "
          f"plan {bench.estimate_gib(variant):.2f} GiB", flush=True)
    return record


def eval_throughput(args, folder: Path) -> list[dict]:
    """Greedy generation of InternVL3-1B and 8B (random weights) under the declared protocol."""
    import torch

    from harness.data.types import EvalItem
    from harness.eval.efficiency import EfficiencyMeter, MemoryProbe, device_name
    from harness.eval.generate import generate_answers
    from harness.models import load_model

    cams = images(folder, args.cameras)
    items = [EvalItem(id=f"q{i}", question=TEXT[: 200 + 40 * i], answer="", question_type="planning", tag=1,
                      capability="planning", kind="open", cameras={f"CAM{j}": p for j, p in enumerate(cams)})
             for i in range(args.eval_items)]
    out = []
    for size in (("student", "teacher_l") if args.shape == "zoo" else ("1b", "8b")):
        where = {"zoo": size} if args.shape == "zoo" else {"scale": size}
        loaded = load_model({"family": "internvl3", **where, "init": "random", "dtype": args.dtype, "seed": 1},
                            device=args.device)
        device = torch.device(args.device)
        generate_answers(loaded, items[:1], batch_size=1, max_new_tokens=4)  # warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        memory = MemoryProbe(device)
        meter = EfficiencyMeter(device=device_name(device), batch_size=args.eval_batch)
        generate_answers(loaded, items, batch_size=args.eval_batch, max_new_tokens=args.max_new_tokens,
                         meter=meter, memory=memory)
        summary = meter.summary(memory.peak_mb())
        if device.type == "cuda":
            summary["peak_reserved_mb"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
        protocol = {"batch": args.eval_batch, "dtype": args.dtype, "tiles_per_camera": 1, "cameras": args.cameras,
                    "items": len(items), "max_new_tokens": args.max_new_tokens}
        out.append({"model": loaded.name, "protocol": protocol, **summary})
        del loaded
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out


def report(results: dict[str, list[dict]], bench: Bench, args) -> dict:
    from tabulate import tabulate

    from timing import format_ratio, median_of, ratio_stats

    names = list(results)
    parts = sorted({p for rs in results.values() for r in rs for p in r["parts"]})
    rows = []
    for name in names:
        part_medians = [median_of([{"v": r["parts"].get(p)} for r in results[name]], "v") for p in parts]
        rows.append([name, median_of(results[name], "seconds"), *part_medians, median_of(results[name], "peak_gib"),
                     bench.estimate_gib(name)]
                    + ([median_of(results[name], "reserved_gib")] if args.device == "cuda" else []))
    headers = ["variant", "s/step", *parts, "peak GiB", "plan GiB"] + (["reserved GiB"] if args.device == "cuda" else [])
    print(tabulate(rows, headers=headers, floatfmt=".2f", tablefmt="simple"))
    summary = {"seq_len": bench.seq_len, "cameras": args.cameras, "device": args.device, "dtype": args.dtype,
               "optimizer": args.optimizer, "rows": [dict(zip(headers, r)) for r in rows], "ratios": {}}
    if "sft" in results:
        for name in names:
            if name == "sft":
                continue
            t = ratio_stats(results[name], results["sft"])
            c = ratio_stats(results[name], results["sft"], key="cpu_seconds")
            m = ratio_stats(results[name], results["sft"], key="peak_gib")
            print(format_ratio(f"{name.upper()} / SFT time", t, 2.5 if name == "agp" else None))
            print(format_ratio(f"{name.upper()} / SFT CPU time", c, 2.5 if name == "agp" else None))
            print(format_ratio(f"{name.upper()} / SFT peak mem", m, 1.5 if name == "agp" else None))
            summary["ratios"][name] = {"time": t, "cpu_time": c, "peak_memory": m}
            if args.device == "cpu":
                s = ratio_stats(results[name], results["sft"], key="step_gib")
                print(format_ratio(f"{name.upper()} / SFT step mem", s))
                summary["ratios"][name]["step_memory"] = s
    if "agp" in results:
        for clock, key, parts_key in (("wall", "seconds", "parts"), ("CPU", "cpu_seconds", "cpu_parts")):
            shares = [r[parts_key].get("gramian + weights", 0.0) / r[key] for r in results["agp"] if r.get(key)]
            if shares:
                share = {"median": statistics.median(shares), "min": min(shares), "max": max(shares), "n": len(shares)}
                print(format_ratio(f"Gramian share of AGP ({clock})", share, 0.10))
                summary.setdefault("gramian_share", {})[clock] = share
    summary["records"] = results  # every timed step, parts included, for a later look
    for row in summary["rows"]:
        print(f"plan / measured peak ({row['variant']}): {row['plan GiB'] / row['peak GiB']:.2f}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--dtype", help="weights' dtype (default: float32 on CPU, bfloat16 on CUDA)")
    parser.add_argument("--variants", default="sft,sum,agp")
    parser.add_argument("--rounds", type=int, default=10, help="at least this many timed steps per variant")
    parser.add_argument("--max-rounds", type=int, default=30)
    parser.add_argument("--budget", type=float, help="wall seconds for the timed rounds (default: 240 on CUDA)")
    parser.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd", "none"])
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    parser.add_argument("--max-rss-gib", type=float, help="CPU: stop the process if its RSS passes this")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--eval-items", type=int, default=8)
    parser.add_argument("--eval-batch", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--no-eval", action="store_true", help="skip eval throughput (run by default on CUDA)")
    parser.add_argument("--eval", action="store_true", help="measure eval throughput on the CPU too")
    parser.add_argument("--shape", default="real", choices=["real", "zoo"], help="zoo: the tiny shapes (checks the script)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--check-imports", action="store_true", help="print what is missing and exit")
    parser.add_argument("--fetch-wheels", nargs="*", metavar="PYVER", help="download wheels (e.g. 3.11 3.12) and exit")
    args = parser.parse_args()
    unknown = sorted(set(args.variants.split(",")) - {"sft", "sum", "agp", "agp_dense"})
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)} (choose from sft, sum, agp, agp_dense)")
    if args.fetch_wheels is not None:
        return fetch_wheels(args.fetch_wheels or [f"{sys.version_info.major}.{sys.version_info.minor}"])
    if args.check_imports:
        missing = missing_modules()
        print("missing: " + (", ".join(missing) if missing else "nothing"))
        return 1 if missing else 0
    bootstrap(install=args.device == "cuda")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from timing import PeakRSS, interleave

    PeakRSS.limit_gib = args.max_rss_gib
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_real_scale: --device cuda but torch sees no GPU")
    args.dtype = args.dtype or ("bfloat16" if args.device == "cuda" else "float32")
    if args.budget is None and args.device == "cuda":
        args.budget = 240.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args, Path(tmp))
        print(f"S = {bench.seq_len} tokens, {args.cameras} cameras, {args.dtype}, optimizer {args.optimizer}, "
              f"{os.cpu_count()} CPU cores, torch {torch.__version__}"
              + (f", teacher targets cached in {bench.teacher_seconds:.1f} s" if bench.cached is not None else ""),
              flush=True)
        variants = {v: (lambda v=v: logged_step(bench, v)) for v in args.variants.split(",")}
        results = interleave(variants, min_rounds=args.rounds, max_rounds=max(args.rounds, args.max_rounds),
                             budget_s=args.budget, warmup=args.warmup)
        summary = report(results, bench, args)
        del bench
        if (args.device == "cuda" or args.eval) and not args.no_eval:
            summary["eval"] = eval_throughput(args, Path(tmp))
            for row in summary["eval"]:
                print(json.dumps(row))
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(f"wall time {summary['wall_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
