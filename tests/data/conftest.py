"""Shared fixtures: the real DriveBench sample files and one small synthetic benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"  # copies of ../shared/fixtures (CC-BY-4.0)
CLEAN = FIXTURES / "drivebench-clean-sample.json"
BITERROR = FIXTURES / "drivebench-biterror-sample.json"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the black text-only image and generated data out of the user's cache."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path_factory.getbasetemp() / "harness-cache"))


@pytest.fixture(scope="session")
def clean_items() -> list[dict]:
    return json.loads(CLEAN.read_text())


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A small synthetic benchmark (20 eval scenes, 10 train scenes), built once per session."""
    from harness.data.synthetic.writer import SynthConfig, generate

    root = tmp_path_factory.mktemp("synth") / "bench"
    generate(root, SynthConfig(seed=7, train=80, eval=160, image_size=64,
                               corruptions=("fog", "low_light", "motion_blur", "bit_error", "frame_lost", "zoom_blur")))
    return root
