"""benchmarks/bench_real_scale.py: its import check and offline self-install, and one run at the zoo's shape."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_real_scale.py"


def script():
    spec = importlib.util.spec_from_file_location("bench_real_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_imports_finds_nothing_missing_here():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check-imports"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "missing: nothing" in done.stdout


def test_a_missing_module_is_named_by_its_distribution_and_needs_the_wheel_folder(monkeypatch, tmp_path):
    bench = script()
    monkeypatch.setitem(bench.REQUIRED, "no_such_module_for_the_test", "no-such-dist")
    assert bench.missing_modules() == ["no-such-dist"]
    monkeypatch.setattr(bench, "WHEELS", tmp_path / "absent")
    with pytest.raises(SystemExit, match="missing no-such-dist and no .*absent"):
        bench.bootstrap(install=True)
    with pytest.raises(SystemExit, match="missing modules: no-such-dist"):
        bench.bootstrap(install=False)


def test_the_wheel_folder_is_git_ignored_and_only_small_packages_are_fetched():
    done = subprocess.run(["git", "check-ignore", "-q", "benchmarks/wheels/x.whl"], cwd=ROOT)
    assert done.returncode == 0
    bench = script()
    assert not {"torch", "transformers", "tokenizers", "numpy"} & set(bench.FETCHABLE)


@pytest.mark.slow
def test_one_interleaved_run_at_the_zoo_shape(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--shape", "zoo", "--cameras", "1", "--rounds", "1",
                           "--max-rounds", "1", "--warmup", "0", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert [r["variant"] for r in summary["rows"]] == ["sft", "sum", "agp"]
    assert {"time", "peak_memory"} <= set(summary["ratios"]["agp"])
    assert "AGP / SFT time" in done.stdout and "plan / measured peak (agp)" in done.stdout
