"""Where the two online reweightings settle on the same gradient norms.

``drivekd_online`` (the released trainer's rule) and ``gradnorm`` (the harness's
older GradNorm-like rule) are fed the same fixed base-gradient norms of
(ce, perception, reasoning, planning), once per optimizer step with
``--micro-batches`` micro-batches per step, and their weights are printed after
``--steps`` steps. The default norms have CE's gradient far larger than the
attention losses', as on real students.

Run: .venv/bin/python benchmarks/bench_reweighting.py [--steps 3000] [--norms 4 0.02 0.3 0.05]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.train.drivekd_online import DriveKDOnline  # noqa: E402
from harness.train.reweighting import GradNormReweighting  # noqa: E402

NAMES = ["ce", "perception", "reasoning", "planning"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--micro-batches", type=int, default=4)
    parser.add_argument("--norms", type=float, nargs=4, default=[4.0, 0.02, 0.3, 0.05])
    args = parser.parse_args()
    gram = torch.diag(torch.tensor(args.norms, dtype=torch.float64) ** 2)
    ones = [1.0] * 4
    official, gradnorm = DriveKDOnline(), GradNormReweighting()
    for _ in range(args.steps):
        for _ in range(args.micro_batches):
            official.update(gram, NAMES, ones)
            g = gradnorm.update(gram, NAMES, ones)  # gradnorm learns every micro-batch
        official.end_step()
    print(f"norms {args.norms}, {args.steps} steps x {args.micro_batches} micro-batches")
    print("drivekd_online " + " ".join(f"{n}={w:.3f}" for n, w in zip(NAMES, official.weights().tolist())))
    print("gradnorm       " + " ".join(f"{n}={w:.3f}" for n, w in zip(NAMES, g.tolist())))


if __name__ == "__main__":
    main()
