"""Session fixtures shared by tests/models and tests/signals: a private zoo and sample data.

The zoo is built into a temporary HARNESS_CACHE once per test session (about a
second), so tests never touch the user's cache and always see a fresh build.
"""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from harness.data.types import TrainSample
from tests.session_env import environ


@pytest.fixture(scope="session")
def zoo_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness_cache")
    with environ("HARNESS_CACHE", str(root)):
        from harness.models.zoo import build_zoo

        build_zoo()
        yield root


@pytest.fixture(scope="session")
def load_zoo(zoo_cache):
    """``load_zoo(family, size, attn="sdpa")`` → a shared LoadedVLM (do not mutate it)."""
    from harness.models import load_model

    cache = {}

    def load(family: str, size: str, attn: str = "sdpa"):
        key = (family, size, attn)
        if key not in cache:
            cache[key] = load_model({"family": family, "zoo": size}, attn_implementation=attn)
        return cache[key]

    return load


@pytest.fixture(scope="session")
def image_paths(tmp_path_factory):
    """Three deterministic noise images of different sizes (collation resizes them)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate([(80, 60), (56, 56), (33, 47)]):
        arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        path = root / f"img{i}.png"
        Image.fromarray(arr).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="session")
def samples(image_paths):
    """Training samples with different image counts, lengths and capabilities."""
    return [
        TrainSample("s1", (image_paths[0], image_paths[1]), "What is the moving status of the car?", "A. Going ahead.", "perception"),
        TrainSample("s2", (image_paths[2],), "Plan?", "Turn left slowly because the light is green.", "planning"),
        TrainSample("s3", (image_paths[1],), "Would the truck be in the moving direction of the ego vehicle?", "No.", "reasoning"),
    ]
