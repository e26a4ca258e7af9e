"""The paper recipes run the protocol of Drive-KD's released trainer (docs/reproducing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.recipe import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_paper_recipes_follow_the_released_trainer(path):
    spec = load_recipe(path).spec
    assert spec.train.schedule == "constant" and spec.train.warmup_ratio == 0.0  # its "cosine" has 0 total steps
    assert spec.train.accum_reduction == "mean" and spec.train.grad_accum == 4  # each loss × 1/grad_accum
    assert spec.train.precision == "bf16" and spec.train.max_grad_norm is None
    assert spec.eval.system_prompt == "none"  # asked as trained
    teachers = [name for name in spec.objectives if name != "ce"]
    if teachers:
        assert spec.reweighting is not None and spec.reweighting.name == "drivekd_online"
    else:
        assert spec.reweighting is None  # CE alone: nothing to reweight
    if path.stem.startswith("single_"):
        capability = path.stem.split("_")[1]
        assert teachers == [capability] and spec.data.train.capabilities == [capability]
    else:
        assert spec.data.train.capabilities is None


def test_recipes_exist():
    assert len(RECIPES) >= 19


TINY = sorted((Path(__file__).resolve().parents[2] / "recipes" / "tiny").glob("*.yaml"))


def _text_to_vision_rows(path):
    resolved = load_recipe(path).resolved
    return [o["signal"]["rows"] for n, o in resolved["objectives"].items()
            if n != "ce" and o["signal"]["type"] == "text_to_vision"]


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_paper_recipes_compare_every_non_image_row_as_the_released_loss_does(path):
    assert set(_text_to_vision_rows(path)) <= {"all"}


@pytest.mark.parametrize("path", TINY, ids=[p.stem for p in TINY])
def test_tiny_recipes_leave_out_the_rows_before_the_image(path):
    assert set(_text_to_vision_rows(path)) <= {"after_image"}


def test_some_recipes_use_text_to_vision():
    assert any(_text_to_vision_rows(p) for p in RECIPES) and any(_text_to_vision_rows(p) for p in TINY)
