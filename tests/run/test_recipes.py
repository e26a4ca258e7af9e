"""Every shipped recipe validates; every tiny recipe runs (shrunk) on the tiny zoo."""

import re
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from harness.recipe import load_recipe
from harness.runner import run_recipe

REAL = sorted((REPO_ROOT / "recipes").glob("*.yaml"))
TINY = sorted((REPO_ROOT / "recipes" / "tiny").glob("*.yaml"))


def test_the_paper_recipes_are_all_there():
    names = {p.stem for p in REAL}
    for required in ("agp_internvl1b", "sum_internvl1b", "pcgrad_internvl1b", "sft_internvl1b",
                     "single_perception_internvl1b", "single_reasoning_internvl1b", "single_planning_internvl1b",
                     "agp_qwen3b", "sum_qwen3b", "pcgrad_qwen3b", "sft_qwen3b",
                     "agp_internvl1b_t14b", "agp_internvl1b_t38b", "agp_internvl2b_t8b"):
        assert required in names, required
    tiny_name = lambda stem: re.sub(r"\d+b$", "", stem)  # agp_qwen3vl2b -> agp_qwen3vl: the tiny zoo has no scales
    assert {tiny_name(p.stem) for p in REAL if "_t" not in p.stem} <= {
        p.stem for p in TINY
    }


@pytest.mark.parametrize("path", REAL + TINY, ids=[str(p.relative_to(REPO_ROOT)) for p in REAL + TINY])
def test_recipe_validates(path):
    recipe = load_recipe(path)
    assert recipe.name and len(recipe.hash) == 64


def test_paper_recipe_follows_the_facts():
    spec = load_recipe(REPO_ROOT / "recipes" / "agp_internvl1b.yaml").spec
    assert (spec.student.family, spec.student.scale) == ("internvl3", "1b")
    assert {t.scale for t in spec.teachers.values()} == {"8b"}
    assert spec.objectives["perception"].signal.type == "text_to_vision"
    assert spec.objectives["perception"].signal.layers == "first"
    assert spec.objectives["reasoning"].signal.type == "full"
    assert spec.objectives["reasoning"].signal.layers == {"start": 0, "end": -2}
    assert spec.objectives["reasoning"].signal.matching == "group"
    assert spec.objectives["planning"].signal.layers == "penultimate"
    assert spec.combiner.name == "agp" and spec.combiner.options["anchor"] == "ce"
    assert (spec.train.lr, spec.train.batch_size, spec.train.grad_accum, spec.train.precision) == (5e-5, 1, 4, "bf16")


def shrink(path: Path) -> list[str]:
    """Overrides that keep a tiny recipe's shape but make it run in seconds."""
    spec = load_recipe(path).spec
    out = ["data.train.train=12", "train.max_steps=2", "train.batch_size=2"]
    out += [f"teachers.{key}.sft.max_steps=2" for key, t in spec.teachers.items() if t.sft is not None]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", TINY, ids=[p.stem for p in TINY])
def test_tiny_recipe_runs(path, env):
    run = run_recipe(load_recipe(path, shrink(path)), progress=False, evaluate=False)
    info = run.info()
    assert info["status"] == "finished"
    assert info["summary"]["steps"] == 2
    assert (run.path / "student" / "config.json").exists()
