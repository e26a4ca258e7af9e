"""Image corruptions: registered, pure (same generator seed → same image), and actually corrupting."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from harness.data.synthetic.corruptions import DRIVEBENCH_NAMES, apply
from harness.data.synthetic.geometry import layout
from harness.data.synthetic.render import render
from harness.data.synthetic.sampler import sample_scene
from harness.registry import CORRUPTIONS

REQUIRED = ("fog", "low_light", "motion_blur", "bit_error", "frame_lost", "zoom_blur")


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return render(layout(sample_scene(random.Random(2), "c")), "CAM_FRONT", 64)


def test_required_corruptions_are_registered():
    import harness.data  # noqa: F401  (registers)

    assert set(REQUIRED) <= set(CORRUPTIONS.names())
    assert set(CORRUPTIONS.names()) <= set(DRIVEBENCH_NAMES)


@pytest.mark.parametrize("name", sorted(DRIVEBENCH_NAMES))
def test_corruption_is_deterministic_and_changes_the_image(image, name):
    before = np.asarray(image).copy()
    a = apply(name, image, 5, np.random.default_rng(0))
    b = apply(name, image, 5, np.random.default_rng(0))
    assert a.size == image.size and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(image), before)  # the input is not modified
    assert np.abs(np.asarray(a, dtype=float) - before).mean() > 2


@pytest.mark.parametrize("name", ["fog", "low_light", "motion_blur", "zoom_blur", "brightness"])
def test_severity_orders_the_damage(image, name):
    base = np.asarray(image, dtype=float)
    damage = [np.abs(np.asarray(apply(name, image, s, np.random.default_rng(1)), dtype=float) - base).mean()
              for s in (1, 3, 5)]
    assert damage[0] < damage[1] < damage[2]


def test_frame_lost_is_black_at_full_severity(image):
    lost = apply("frame_lost", image, 5, np.random.default_rng(3))
    assert lost.getextrema() == ((0, 0), (0, 0), (0, 0))


def test_bad_severity_raises(image):
    with pytest.raises(ValueError, match="severity must be 1-5"):
        apply("fog", image, 0, np.random.default_rng(0))
