"""benchmarks/timing.py: interleaved rounds with rotated order, stopping rule, per-round ratios."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from timing import format_ratio, interleave, ratio_stats  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_rounds_rotate_the_order_and_stop_once_stable():
    clock, calls = FakeClock(), []

    def variant(name, cost):
        def run():
            calls.append(name)
            clock.now += cost
        return run

    results = interleave({"a": variant("a", 1.0), "b": variant("b", 2.0), "c": variant("c", 3.0)},
                         min_rounds=10, max_rounds=30, warmup=1, clock=clock)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:9] == ["a", "b", "c", "b", "c", "a"]  # rounds rotate
    assert all(len(r) == 10 for r in results.values())  # constant costs: stable at the minimum
    stats = ratio_stats(results["c"], results["a"])
    assert stats == {"median": 3.0, "min": 3.0, "max": 3.0, "n": 10}
    assert "target <= 2.5: missed" in format_ratio("C / A", stats, 2.5)


def test_unstable_ratios_run_until_the_maximum_or_the_budget():
    clock = FakeClock()
    costs = iter(float(n) for n in range(1, 1000))  # a drifting variant: its ratio never settles

    def noisy():
        nonlocal costs
        clock.now += next(costs)

    def steady():
        clock.now += 1.0

    results = interleave({"steady": steady, "noisy": noisy}, min_rounds=3, max_rounds=12, warmup=0, clock=clock)
    assert len(results["noisy"]) == 12
    costs = iter(float(n) for n in range(1, 1000))
    capped = interleave({"steady": steady, "noisy": noisy}, min_rounds=10, max_rounds=50, warmup=0, budget_s=20,
                        clock=clock)
    assert len(capped["steady"]) == 6  # the budget is a hard cap (a GPU lease), even before min_rounds


def test_each_record_carries_the_process_cpu_time_beside_the_wall_time():
    """A step that waits costs wall time but no CPU time; one that computes costs both."""
    import time

    def busy():
        start = time.process_time()
        while time.process_time() - start < 0.02:
            pass

    def waits():
        time.sleep(0.02)

    results = interleave({"busy": busy, "waits": waits}, min_rounds=2, max_rounds=2, warmup=0)
    assert all(r["cpu_seconds"] >= 0.02 for r in results["busy"])
    assert all(r["cpu_seconds"] < 0.02 <= r["seconds"] for r in results["waits"])


def test_the_memory_sampler_sees_an_allocation_made_inside_it():
    from timing import PeakRSS

    import mmap

    # A fresh anonymous mapping, not a bytearray: malloc may hand back freed memory that is
    # already resident (it did, late in a full test session), and then the RSS does not grow.
    with PeakRSS() as rss, mmap.mmap(-1, 64 * 2**20) as block:
        before = rss.peak
        for offset in range(0, len(block), mmap.PAGESIZE):  # touch every page so it is resident
            block[offset] = 1
        time.sleep(0.05)
    assert rss.peak - before >= 32 * 2**20
