"""Shared timing helpers of the benchmark scripts (imported as a sibling module).

Variants are compared by interleaving them (A B C, B C A, C A B, …) in one
process, so a burst of load from other jobs hits every variant alike, and each
ratio is reported as the median of per-round ratios with its min–max, never as
one pair of totals.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Callable, Mapping


class PeakRSS:
    """Samples this process's resident memory in a thread while a step runs; ``peak`` is the highest seen.

    Used as ``with PeakRSS() as rss: step()``. ``limit_gib`` (a benchmark's ``--max-rss-gib``)
    stops the whole process beyond it, so a run on a shared machine ends itself before the
    kernel's out-of-memory killer picks some other job.
    """

    limit_gib: float | None = None

    def __init__(self, interval: float = 0.002):
        import psutil

        self.process, self.interval = psutil.Process(), interval
        self.peak = 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            if self.limit_gib is not None and self.peak > self.limit_gib * 2**30:
                print(f"RSS {self.peak / 2**30:.1f} GiB passed --max-rss-gib {self.limit_gib}; stopping", flush=True)
                os._exit(3)
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``fn()`` (least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleave(variants: Mapping[str, Callable[[], dict | None]], *, min_rounds: int = 10, max_rounds: int = 30,
               warmup: int = 1, tolerance: float = 0.03, budget_s: float | None = None,
               clock: Callable[[], float] = time.perf_counter) -> dict[str, list[dict]]:
    """Run every variant once per round, rotating the order, until the per-round time ratios are stable.

    Each call returns a dict of measurements (or None); ``seconds`` (wall) and
    ``cpu_seconds`` (this process's CPU time, all threads) are added unless it gave them:
    on a machine shared with other jobs the wall time of one step can grow several-fold
    when they start, while its CPU time stays what the step costs. Stable:
    after ``min_rounds``, every variant's median ratio against the first variant moved
    by less than ``tolerance`` (relative) when the last round was added; ``max_rounds``
    and ``budget_s`` (wall seconds for the timed rounds) bound it.
    """
    names = list(variants)
    results: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(warmup):
        for name in names:
            variants[name]()
    started = clock()
    rounds = 0
    while rounds < max_rounds:
        order = names[rounds % len(names):] + names[: rounds % len(names)]
        for name in order:
            begin, cpu_begin = clock(), time.process_time()
            record = dict(variants[name]() or {})
            record.setdefault("seconds", clock() - begin)
            record.setdefault("cpu_seconds", time.process_time() - cpu_begin)
            results[name].append(record)
        rounds += 1
        if budget_s is not None and clock() - started > budget_s:
            break
        if rounds >= min_rounds and _stable(results, names, tolerance):
            break
    return results


def _stable(results: dict[str, list[dict]], names: list[str], tolerance: float) -> bool:
    base = names[0]
    for name in names[1:]:
        now = ratio_stats(results[name], results[base])["median"]
        before = ratio_stats(results[name][:-1], results[base][:-1])["median"]
        if abs(now - before) > tolerance * abs(before):
            return False
    return True


def ratio_stats(a: list[dict], b: list[dict], key: str = "seconds") -> dict[str, float]:
    """Median, min and max of the per-round ratios ``a[i][key] / b[i][key]``."""
    ratios = [x[key] / y[key] for x, y in zip(a, b) if y.get(key)]
    if not ratios:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "n": len(ratios)}


def format_ratio(label: str, stats: Mapping[str, float], target: float | None = None) -> str:
    """``label  1.68  (min 1.52, max 1.91, 10 rounds)  target <= 2.0: met``."""
    line = f"{label:<24} {stats['median']:6.2f}  (min {stats['min']:.2f}, max {stats['max']:.2f}, {stats['n']} rounds)"
    if target is not None:
        line += f"  target <= {target:g}: {'met' if stats['median'] <= target else 'missed'}"
    return line


def release_freed_memory() -> None:
    """Hand memory freed by earlier steps back to the OS (glibc ``malloc_trim``), so that one
    process's RSS before a step is a fair baseline for the step's peak, whichever variant ran last."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline is merely higher
        pass


def median_of(records: list[dict], key: str) -> float:
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")
