"""Per-step time and peak memory: SFT vs the harness's AGP step vs the plain reference step.

    .venv/bin/python benchmarks/bench_step.py [--recipe recipes/tiny/agp_internvl.yaml] [--steps 8]

One run measures three steps on the same recipe, model and micro-batches:

- ``sft``: CE only, one backward (the floor any distillation step is compared with);
- ``agp``: the harness's step: cached teacher targets, attention captured on the requested
  layers only, per-objective gradients combined through the Gramian;
- ``reference``: the plain path: live teachers with eager attention on every layer, the
  student eager too, one backward per objective with copied gradients, explicit vector AGP.

The variants are interleaved in one process (see benchmarks/timing.py: rotated order, at
least ``--rounds`` timed steps each, until the ratios are stable) on the same micro-batches;
each step's memory is the peak RSS sampled during it minus the RSS before it. Ratios are
medians of per-round ratios with their min–max. Targets (issue): AGP ≤ 2.0× SFT time,
≤ 0.4× reference time, step memory ≤ 1.5× SFT.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHRINK = ["data.train.train=32", "train.batch_size=4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "tiny" / "agp_internvl.yaml"))
    parser.add_argument("--rounds", type=int, default=10, help="at least this many timed steps per variant")
    parser.add_argument("--max-rounds", type=int, default=30)
    args = parser.parse_args()
    import psutil
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from timing import PeakRSS, format_ratio, interleave, median_of, ratio_stats, release_freed_memory

    from harness.combine.gradients import CombinedBackward
    from harness.data.collate import collate_train
    from harness.recipe import load_recipe
    from harness.runner import prepare
    from harness.train.reference import ReferenceStep, apply_update

    prepared = prepare(load_recipe(args.recipe, SHRINK), progress=False)
    b = prepared.recipe.spec.train.batch_size
    n_batches = max(1, len(prepared.samples) // b)
    batches = [prepared.samples[i * b : (i + 1) * b] for i in range(n_batches)]
    model = prepared.student.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    engine = CombinedBackward(params, prepared.combiner, generator=torch.Generator().manual_seed(0))
    ref = ReferenceStep(prepared)
    ref_optimizer = torch.optim.AdamW(ref.params, lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    process = psutil.Process()
    turn = {"sft": 0, "agp": 0, "reference": 0}

    def measured(name, body):
        def step():
            samples = batches[turn[name] % len(batches)]
            turn[name] += 1
            release_freed_memory()
            before = process.memory_info().rss
            with PeakRSS() as peak:
                start = time.perf_counter()
                body(samples)
                seconds = time.perf_counter() - start
            return {"seconds": seconds, "step_mb": (peak.peak - before) / 2**20, "peak_mb": peak.peak / 2**20}
        return step

    def sft(samples):
        batch = collate_train(samples, prepared.student)
        model(**batch.model_inputs(with_labels=True)).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def agp(samples):
        batch = collate_train(samples, prepared.student)
        targets = prepared.targets.for_batch(samples, batch)
        engine.backward(prepared.objectives.losses(prepared.objectives.forward_student(batch), batch, targets))
        engine.finish()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def reference(samples):
        apply_update(ref.params, ref.update(samples, generator))
        ref_optimizer.step()
        ref_optimizer.zero_grad(set_to_none=True)

    results = interleave({"sft": measured("sft", sft), "agp": measured("agp", agp),
                          "reference": measured("reference", reference)},
                         min_rounds=args.rounds, max_rounds=max(args.rounds, args.max_rounds))
    print(f"recipe {args.recipe}, batch {b}, {len(results['sft'])} interleaved rounds after one warm-up, "
          f"{os.cpu_count()} cores")
    print(f"{'variant':<10} {'s/step':>8} {'step MB':>8} {'peak RSS MB':>12}   (medians)")
    for name, rs in results.items():
        print(f"{name:<10} {median_of(rs, 'seconds'):8.3f} {median_of(rs, 'step_mb'):8.1f} {median_of(rs, 'peak_mb'):12.1f}")
    print(format_ratio("AGP / SFT time", ratio_stats(results["agp"], results["sft"]), 2.0))
    print(format_ratio("AGP / SFT CPU time", ratio_stats(results["agp"], results["sft"], key="cpu_seconds")))
    print(format_ratio("AGP / reference time", ratio_stats(results["agp"], results["reference"]), 0.4))
    print(format_ratio("AGP / SFT step mem", ratio_stats(results["agp"], results["sft"], key="step_mb"), 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
