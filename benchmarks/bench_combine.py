"""Gramian path vs explicit vector path of the combiners, as a time ratio in one run.

The Gramian path (what the harness does) forms G = J J^T once (one pass over the
K×P gradients), runs the combiner on K×K, and forms sum_k w_k g_k (a second pass).
The vector path (harness/combine/reference.py) does every inner product, norm and
projection on P-vectors. Ratio > 1 means the Gramian path is faster. Prints one
table; run: .venv/bin/python benchmarks/bench_combine.py
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.combine import aggregate  # noqa: E402
from harness.combine.reference import vector_form  # noqa: E402
from timing import interleave, median_of, ratio_stats  # noqa: E402  (benchmarks/timing.py)

NAMES = ["ce", "perception", "reasoning", "planning"]


def gramian_path(g: torch.Tensor, name: str) -> None:
    """The harness's path (the update is discarded: interleave takes a variant's return as its measurements)."""
    aggregate(g, NAMES, name, generator=torch.Generator().manual_seed(0))


def vector_path(g: torch.Tensor, name: str) -> None:
    """The plain vector form of the same combiner."""
    vector_form(name)(g, NAMES, torch.Generator().manual_seed(0))


def main(sizes: tuple[int, ...] = (100_000, 2_000_000)) -> None:
    torch.set_num_threads(1)
    rows = []
    for p in sizes:
        g = torch.randn(len(NAMES), p, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        g[1] -= 0.8 * g[0]  # conflicts, so projections really happen
        g[3] -= 0.5 * g[2]
        cases = {name: (functools.partial(gramian_path, g, name), functools.partial(vector_path, g, name))
                 for name in ("pcgrad", "agp", "mgda")}
        for name, (gramian_variant, vector_variant) in cases.items():
            timed = interleave({"gramian": gramian_variant, "vector": vector_variant}, min_rounds=10, max_rounds=30)
            rows.append((name, p, median_of(timed["gramian"], "seconds"), median_of(timed["vector"], "seconds"),
                         ratio_stats(timed["vector"], timed["gramian"])))
    print(f"{'combiner':8} {'P':>9} {'gramian s':>10} {'vector s':>10} {'vector/gramian (median, min-max, rounds)':>42}"
          "  (K=4, float64 both paths, 1 thread)")
    for name, p, t_gram, t_vec, r in rows:
        print(f"{name:8} {p:>9} {t_gram:>10.4f} {t_vec:>10.4f}   {r['median']:8.2f} ({r['min']:.2f}-{r['max']:.2f}, {r['n']})")


if __name__ == "__main__":
    main()
