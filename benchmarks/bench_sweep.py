"""Teacher-forward time of a study sharing teachers vs the same trials as independent uncached runs.

One run on the tiny zoo (CPU), measured in the same process so the ratios hold:

- study: ``harness sweep`` of a 12-trial grid (3 combiners × 4 learning rates, one
  seed) over the tiny three-teacher AGP recipe. The trials share teachers, data,
  signals and seed, so the teacher cache computes the targets in the first trial
  and every later trial reads them;
- independent: the very same 12 recipes, each a ``harness run`` child process
  whose ``cache.dir`` is a fresh empty folder, so every run computes its own
  teacher targets (nothing shared).

Both sides start with the tiny zoo and the fine-tuned tiny teacher already built
(a warm-up run does that), both launch one child process per run, and the two
sides are interleaved (one study trial, then one independent run, through the
sweep's own worker loop), so load from other processes on a shared machine falls
on both alike. Reported: the sums of
run.json ``teacher_forward_seconds`` (target: study ≤ 1/8 of independent), wall
times, and the per-trial overhead of the sweep (wall time of a trial beyond the
run's own ``seconds``: interpreter start, imports, Optuna bookkeeping). Evaluation
is off on both sides (it is the same work on both and would only dilute the ratio).

Then, with the caches warm, the same study runs twice more into fresh results folders,
with 1 and with 2 local workers, and their trials per hour are compared (target ≥ 1.7×).

run: .venv/bin/python benchmarks/bench_sweep.py [--trials 12] [--throughput-trials 6] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LRS = ["1.0e-3", "5.0e-4", "2.0e-4", "1.0e-4", "5.0e-5", "2.0e-5"]
ABLATION = """\
name: bench_sweep
base: {base}
overrides:
  data.train: {{name: synthetic, seed: 0, train: 16, eval: 8}}
  train: {{max_steps: 2, batch_size: 4, grad_accum: 1, checkpoint_every: 0}}
  eval: {{enabled: false}}
  teachers.perception_teacher.sft.max_steps: 2
  teachers.reasoning_teacher.sft.max_steps: 2
  teachers.planning_teacher.sft.max_steps: 2
space:
  combiner: [{{name: sum}}, {{name: pcgrad}}, {{name: agp, anchor: ce}}]
  train.lr: [{lrs}]
seeds: [0]
n_trials: {n}
objective: {{metric: final_losses.ce, direction: minimize}}
"""


def run_child(recipe_file: Path, results: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "run", str(recipe_file), "--results", str(results), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def summaries(results: Path) -> list[dict]:
    return [json.loads(p.read_text())["summary"] for p in sorted(results.glob("runs/*/*/run.json"))]


def throughput(ablation_file: Path, work: Path, trials: int) -> dict:
    """Trials per hour of the same study with 1 and with 2 local workers (caches already warm).

    Each side gets a fresh results folder, so no run is reused, while the teacher and
    target caches built above are shared: what is compared is the trials themselves.
    """
    per_hour = {}
    for workers in (1, 2):
        cmd = [sys.executable, "-m", "harness.cli", "sweep", str(ablation_file), "--results",
               str(work / f"throughput-{workers}"), "--workers", str(workers), "--n-trials", str(trials), "--quiet"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        per_hour[workers] = trials / (time.perf_counter() - start) * 3600
    return {"trials": trials, "trials_per_hour": per_hour, "ratio": per_hour[2] / per_hour[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--throughput-trials", type=int, default=6,
                        help="trials of the 1-vs-2-workers throughput comparison (0: skip it)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (runs, caches) for inspection")
    args = parser.parse_args()
    if not 1 <= args.trials <= 3 * len(LRS):
        parser.error(f"--trials must be 1..{3 * len(LRS)}")

    work = Path(tempfile.mkdtemp(prefix="bench_sweep."))
    os.environ["HARNESS_CACHE"] = str(work / "cache")
    from harness.sweep.ablation import load_ablation

    n_lrs = -(-args.trials // 3)
    ablation_file = work / "bench_sweep.yaml"
    ablation_file.write_text(ABLATION.format(base=ROOT / "recipes/tiny/agp_internvl.yaml", lrs=", ".join(LRS[:n_lrs]),
                                             n=args.trials))
    ablation = load_ablation(ablation_file)
    recipes = [ablation.recipe(None, ablation.decode(p.params), p.seed) for p in ablation.plan()]

    # Warm-up: build the zoo and the fine-tuned teacher (shared by both sides), with targets
    # written to a scratch folder so the study starts with an empty target cache.
    warm = recipes[0].with_overrides([f"cache.dir={work / 'warmup-targets'}", "train.max_steps=1"])
    (work / "warm.yaml").write_text(warm.to_yaml())
    warm_s = run_child(work / "warm.yaml", work / "warm-results")

    # Interleaved, one study trial then one independent run, so that load from other
    # processes on a shared machine falls on both sides alike.
    from harness.sweep.heartbeat import retry_callback
    from harness.sweep.storage import default_storage, open_storage, open_study
    from harness.sweep.study import quiet_optuna
    from harness.sweep.worker import Context
    from harness.sweep.worker import work as work_queue

    quiet_optuna()
    study_root = work / "study"
    start = time.perf_counter()
    store = open_storage(default_storage(study_root, ablation.name), ablation.spec.retry)
    study = open_study(ablation, store, study_name=ablation.name, n_trials=None)
    ctx = Context(ablation, store, study, study_root, study_root / "sweeps" / ablation.name,
                  retry_callback(0), on_event=lambda _line: None)
    study_wall = time.perf_counter() - start
    independent_wall = 0.0
    for i, recipe in enumerate(recipes):
        start = time.perf_counter()
        work_queue(ctx, max_trials=i + 1)  # exactly one more trial
        study_wall += time.perf_counter() - start
        alone = recipe.with_overrides([f"cache.dir={work / f'targets-{i}'}"])
        path = work / f"independent-{i}.yaml"
        path.write_text(alone.to_yaml())
        independent_wall += run_child(path, work / "independent")
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(complete) == args.trials, [t.state for t in study.get_trials()]
    study = summaries(study_root)
    independent = summaries(work / "independent")

    study_tf = sum(s["teacher_forward_seconds"] for s in study)
    indep_tf = sum(s["teacher_forward_seconds"] for s in independent)
    study_run = sum(s["seconds"] for s in study)
    indep_run = sum(s["seconds"] for s in independent)
    figures = {
        "trials": args.trials,
        "warmup_seconds": round(warm_s, 2),
        "teacher_forward_seconds": {"study": round(study_tf, 3), "independent": round(indep_tf, 3)},
        "teacher_forward_ratio": round(study_tf / indep_tf, 4) if indep_tf else None,
        "wall_seconds": {"study": round(study_wall, 2), "independent": round(independent_wall, 2)},
        "wall_ratio": round(study_wall / independent_wall, 3),
        "run_seconds": {"study": round(study_run, 2), "independent": round(indep_run, 2)},
        "overhead_per_trial_seconds": {"study": round((study_wall - study_run) / args.trials, 2),
                                       "independent": round((independent_wall - indep_run) / args.trials, 2)},
        "teacher_forward_first_trial_seconds": round(max(s["teacher_forward_seconds"] for s in study), 3),
        "cpu_count": os.cpu_count(),
    }
    rows = [
        ["teacher forwards (s, sum)", f"{study_tf:.2f}", f"{indep_tf:.2f}", f"{figures['teacher_forward_ratio']}"],
        ["wall time (s)", f"{study_wall:.1f}", f"{independent_wall:.1f}", f"{figures['wall_ratio']}"],
        ["runs' own seconds (sum)", f"{study_run:.1f}", f"{indep_run:.1f}", f"{study_run / indep_run:.3f}"],
        ["overhead per trial (s)", figures["overhead_per_trial_seconds"]["study"],
         figures["overhead_per_trial_seconds"]["independent"], ""],
    ]
    print(f"bench_sweep: {args.trials} trials on the tiny zoo, {os.cpu_count()} CPU cores (warm-up {warm_s:.1f} s)")
    print(tabulate(rows, headers=["", "study (shared)", "independent (uncached)", "study / independent"], tablefmt="simple"))
    target = figures["teacher_forward_ratio"] is not None and figures["teacher_forward_ratio"] <= 1 / 8
    print(f"target teacher-forward ratio <= 1/8: {'met' if target else 'NOT met'}")
    if args.throughput_trials:
        figures["throughput"] = throughput(ablation_file, work, args.throughput_trials)
        t = figures["throughput"]
        print(f"throughput, {args.throughput_trials} trials with warm caches: 1 worker {t['trials_per_hour'][1]:.0f} "
              f"trials/h, 2 workers {t['trials_per_hour'][2]:.0f} trials/h, ratio {t['ratio']:.2f} "
              f"(target >= 1.7: {'met' if t['ratio'] >= 1.7 else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    if args.keep:
        print(f"scratch folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
