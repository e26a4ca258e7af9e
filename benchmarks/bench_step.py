"""Per-step time and peak memory: SFT vs the harness's AGP step vs the plain reference step.

    .venv/bin/python benchmarks/bench_step.py [--recipe recipes/tiny/agp_internvl.yaml] [--steps 8]

One run measures three steps on the same recipe, model and micro-batches:

- ``sft``: CE only, one backward (the floor any distillation step is compared with);
- ``agp``: the harness's step: cached teacher targets, attention captured on the requested
  layers only, per-objective gradients combined through the Gramian;
- ``reference``: the plain path: live teachers with eager attention on every layer, the
  student eager too, one backward per objective with copied gradients, explicit vector AGP.

Each variant runs in its own process (so their memory does not mix): after set-up, the
resident set size is sampled every millisecond during the timed steps; "step memory" is
the peak minus the level before the first step. Printed as ratios against SFT and the
reference. Targets (issue): AGP ≤ 2.0× SFT time, ≤ 0.4× reference time, step memory ≤ 1.5× SFT.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHRINK = ["data.train.train=32", "train.batch_size=4"]


class PeakRSS:
    """Samples this process's RSS in a thread; ``peak`` is the highest seen."""

    def __init__(self, interval: float = 0.001):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def measure(variant: str, recipe_path: str, steps: int) -> dict:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    from harness.combine.gradients import CombinedBackward
    from harness.data.collate import collate_train
    from harness.recipe import load_recipe
    from harness.runner import prepare
    from harness.train.reference import ReferenceStep, apply_update

    overrides = list(SHRINK)
    if variant == "sft":
        overrides += ["combiner=sum"]
    prepared = prepare(load_recipe(recipe_path, overrides), progress=False)
    b = prepared.recipe.spec.train.batch_size
    batches = [prepared.samples[i * b : (i + 1) * b] for i in range(steps + 1)]
    generator = torch.Generator().manual_seed(0)

    if variant == "reference":
        ref = ReferenceStep(prepared)
        params = ref.params
        optimizer = torch.optim.AdamW(params, lr=1e-4)

        def step(samples):
            update = ref.update(samples, generator)
            apply_update(params, update)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    else:
        model = prepared.student.model
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        engine = CombinedBackward(params, prepared.combiner, generator=generator)

        def step(samples):
            batch = collate_train(samples, prepared.student)
            if variant == "sft":
                model(**batch.model_inputs(with_labels=True)).loss.backward()
            else:
                targets = prepared.targets.for_batch(samples, batch)
                losses = prepared.objectives.losses(prepared.objectives.forward_student(batch), batch, targets)
                engine.backward(losses)
                engine.finish()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    step(batches[0])  # warm-up: first-call allocations and lazy init
    import psutil

    before = psutil.Process().memory_info().rss
    with PeakRSS() as peak:
        start = time.perf_counter()
        for samples in batches[1:]:
            step(samples)
        seconds = (time.perf_counter() - start) / steps
    return {"variant": variant, "seconds_per_step": seconds, "step_memory_mb": (peak.peak - before) / 2**20,
            "peak_rss_mb": peak.peak / 2**20, "steps": steps, "batch_size": b}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "tiny" / "agp_internvl.yaml"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.recipe, args.steps)))
        return 0
    # Build caches (SFT teacher, teacher targets) once so no variant pays for them.
    subprocess.run([sys.executable, __file__, "--variant", "agp", "--recipe", args.recipe, "--steps", "1"],
                   check=True, capture_output=True)
    results = {}
    for variant in ("sft", "agp", "reference"):
        proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--recipe", args.recipe,
                               "--steps", str(args.steps)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    sft, agp, ref = results["sft"], results["agp"], results["reference"]
    print(f"recipe {args.recipe}, {args.steps} timed steps of batch {sft['batch_size']} after one warm-up, "
          f"{os.cpu_count()} cores")
    print(f"{'variant':<10} {'s/step':>8} {'step MB':>8} {'peak RSS MB':>12}")
    for r in results.values():
        print(f"{r['variant']:<10} {r['seconds_per_step']:8.3f} {r['step_memory_mb']:8.1f} {r['peak_rss_mb']:12.1f}")
    time_vs_sft = agp["seconds_per_step"] / sft["seconds_per_step"]
    time_vs_ref = agp["seconds_per_step"] / ref["seconds_per_step"]
    mem_vs_sft = agp["step_memory_mb"] / max(sft["step_memory_mb"], 1e-9)
    print(f"AGP / SFT time      {time_vs_sft:5.2f}  (target <= 2.0)")
    print(f"AGP / reference     {time_vs_ref:5.2f}  (target <= 0.4)")
    print(f"AGP / SFT step mem  {mem_vs_sft:5.2f}  (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
