"""Significance statistics at paper-table size: 20 systems × 1,500 items × 10,000 resamples.

The table path resamples items as a COUNT matrix and gets every system's bootstrap
means from one matrix product (harness.report.stats). The plain reference draws
index vectors and averages per resample in a Python loop; it is timed on a smaller
size (fewer resamples) and the ratio is per resample, in the same run. Also timed:
the hierarchical bootstrap (3 seeds per system), the whole-table corrections, and a
whole table resampling frames against one resampling items (interleaved repeats).

Run: .venv/bin/python benchmarks/bench_stats.py [--systems 20] [--items 1500] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.report import stats  # noqa: E402
from timing import best_of  # noqa: E402  (benchmarks/timing.py)


def plain_loop(a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """The obvious implementation: per resample, index the items and average each system's differences."""
    rng = np.random.default_rng(seed)
    diffs = a - b[None, :]
    out = np.empty((a.shape[0], n_resamples))
    for r in range(n_resamples):
        idx = rng.integers(0, a.shape[1], a.shape[1])
        for s in range(a.shape[0]):
            out[s, r] = diffs[s, idx].mean()
    return out


def table_seconds(args) -> dict[str, list[float]]:
    """Build a Table-3-style table from synthesised run directories (pandas and statistics together),
    resampling frames (the default) and items, interleaved ``args.repeats`` times; seconds per build."""
    import tempfile

    from harness.report.collect import collect
    from harness.report.spec import StatsOptions, TableSpec
    from harness.report.tables import build_table
    from tests.report.fakes import base_scores, item_table, write_run

    times: dict[str, list[float]] = {"frame_token": [], "item": []}
    with tempfile.TemporaryDirectory() as tmp:
        items = item_table(args.items // 3)  # 6 questions per frame
        base = base_scores(items)
        rng = np.random.default_rng(1)
        for k in range(args.systems):
            write_run(Path(tmp), f"system{k:02d}", np.clip(base + rng.normal(0, 10, len(items)), 0, 100), items,
                      variant=f"v{k:02d}", study="bench")
        collected = collect(tmp)
        for _ in range(args.repeats):
            for unit in times:
                start = time.perf_counter()
                build_table(collected, TableSpec(name="bench", baseline="v00"),
                            options=StatsOptions(n_resamples=args.resamples, cluster=unit))
                times[unit].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=20)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--plain-resamples", type=int, default=200, help="resamples for the plain loop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--table", action=argparse.BooleanOptionalAction, default=True,
                        help="also time a whole table built from synthesised run directories")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    difficulty = rng.uniform(10, 90, args.items)
    a = np.clip(difficulty + rng.normal(0, 15, (args.systems, args.items)), 0, 100)
    b = np.clip(difficulty + rng.normal(0, 15, args.items), 0, 100)

    fast = best_of(lambda: stats.paired_bootstrap(a, b, args.resamples, seed=0), args.repeats)
    plain = best_of(lambda: plain_loop(a, b, args.plain_resamples, seed=0), 1)
    per_fast = fast / args.resamples
    per_plain = plain / args.plain_resamples

    seeded = [np.clip(difficulty + rng.normal(0, 15, (3, args.items)), 0, 100) for _ in range(args.systems + 1)]
    hier = best_of(lambda: stats.hierarchical_means_many(seeded, args.resamples, seed=0), 1)
    p = rng.uniform(0, 1, args.systems * 4)
    corr = best_of(lambda: (stats.holm(p), stats.benjamini_hochberg(p)), args.repeats)

    print(f"paired bootstrap, {args.systems} systems x {args.items} items x {args.resamples} resamples: "
          f"{fast:.2f} s (best of {args.repeats})")
    print(f"plain per-resample loop, same systems and items, {args.plain_resamples} resamples: {plain:.2f} s")
    print(f"per resample: vectorised {1e3 * per_fast:.3f} ms vs plain {1e3 * per_plain:.3f} ms "
          f"-> {per_plain / per_fast:.0f}x faster")
    print(f"hierarchical bootstrap, {args.systems} systems + baseline x 3 seeds x {args.items} items x "
          f"{args.resamples} resamples: {hier:.2f} s")
    if args.table:
        times = table_seconds(args)
        ratios = [f / i for f, i in zip(times["frame_token"], times["item"])]
        print(f"whole table (build, collected once) from {args.systems} run directories: frames "
              f"{np.median(times['frame_token']):.2f} s, items {np.median(times['item']):.2f} s (medians of "
              f"{args.repeats}, interleaved); frames/items {np.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"Holm + Benjamini-Hochberg over {p.size} p-values: {1e3 * corr:.3f} ms")


if __name__ == "__main__":
    main()
