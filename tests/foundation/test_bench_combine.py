"""benchmarks/bench_combine.py runs (its variants once returned tensors, which the interleaving refused)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_combine.py"


def test_bench_combine_prints_its_table_at_a_small_size(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # it imports benchmarks/timing.py as "timing"
    spec = importlib.util.spec_from_file_location("bench_combine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    try:
        module.main(sizes=(64,))
    finally:
        torch.set_num_threads(threads)  # main() runs on one thread
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == ["pcgrad", "agp", "mgda"]
