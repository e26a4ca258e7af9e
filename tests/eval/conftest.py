"""Shared set-up for the evaluation tests: a private cache, real fixture items, synthetic items.

HARNESS_CACHE points at a session temp folder (zoo, synthetic data, black image,
judge cache), so the tests never touch the user's cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.session_env import environ

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"  # real DriveBench items (CC-BY-4.0)
CLEAN = FIXTURES / "drivebench-clean-sample.json"
BITERROR = FIXTURES / "drivebench-biterror-sample.json"


@pytest.fixture(scope="session", autouse=True)
def eval_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_cache")
    with environ("HARNESS_CACHE", str(root)):
        yield root


@pytest.fixture(scope="session")
def synthetic(eval_cache):
    """A small synthetic benchmark (16 eval items = 2 scenes, two corruptions)."""
    import harness.data  # noqa: F401
    from harness.registry import DATASETS

    return DATASETS.get("synthetic")(seed=3, train=16, eval=16, image_size=48, corruptions=["fog", "low_light"])


@pytest.fixture(scope="session")
def many_synthetic_items(eval_cache):
    """160 clean synthetic items (20 scenes × 8 templates) for judge exactness."""
    import harness.data  # noqa: F401
    from harness.registry import DATASETS

    return DATASETS.get("synthetic")(seed=11, train=8, eval=160, image_size=32, corruptions=[]).eval_items("clean")


@pytest.fixture(scope="session")
def real_items(eval_cache):
    """The 75 real DriveBench fixture items, text-only (no nuScenes images needed)."""
    from harness.data.drivebench import load

    return [*load(CLEAN, setting="text_only"), *load(BITERROR, setting="text_only")]


@pytest.fixture(scope="session")
def zoo_student(eval_cache):
    from harness.models import load_model

    return load_model({"family": "internvl3", "zoo": "student"})
