"""The demo's shipped teachers: built by the harness's own SFT, checked by their checksums before use."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.demo.teachers import BUILD, BUILD_FILE, QUESTIONS, STEPS, build_for, build_teacher, check_teacher, teacher_folder
from harness.errors import HarnessError

TINY = {**BUILD, "data": {**BUILD["data"], "train": 8, "eval": 8}, "sft": {**build_for("internvl3")["sft"], "max_steps": 2, "epochs": 1}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("teachers")
    return build_teacher("internvl3", root, TINY)


def test_a_built_teacher_is_a_loadable_hf_folder_with_its_recipe_and_checksums(built):
    from harness.models import load_model

    assert built == teacher_folder("internvl3", built.parent)
    note = json.loads((built / BUILD_FILE).read_text())
    assert note["family"] == "internvl3" and note["sft"] == TINY["sft"] and note["data"] == TINY["data"]
    assert note["samples"] == 8 and "sft" in note["loss"]
    assert check_teacher(built) == built
    loaded = load_model({"family": "internvl3", "path": str(built)})
    assert loaded.depth == 6  # teacher_s


def test_a_damaged_or_missing_teacher_is_refused_naming_the_rebuild_command(built, tmp_path):
    damaged = tmp_path / "internvl3"
    shutil.copytree(built, damaged)
    with (damaged / "model.safetensors").open("r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\x00" * 8)
    with pytest.raises(HarnessError, match="--build-teachers"):
        check_teacher(damaged)
    with pytest.raises(HarnessError, match="--build-teachers"):
        check_teacher(tmp_path / "missing")


def test_the_demo_teachers_are_colour_question_teachers_of_the_zoo():
    assert BUILD["zoo"] == "teacher_s" and BUILD["data"]["templates"] == ["object_colour"]
    assert BUILD["sft"]["seed"] == 0  # fixed: every rebuild on one machine gives the same weights
    for family, steps in STEPS.items():
        sft = build_for(family)["sft"]
        assert build_for(family)["data"]["train"] == QUESTIONS[family]
        assert sft["max_steps"] == steps and sft["epochs"] * QUESTIONS[family] // 16 >= steps  # the epochs reach the steps
    with pytest.raises(HarnessError, match="no demo teacher recipe"):
        build_for("qwen3_vl")


@pytest.mark.parametrize("family", sorted(STEPS))
def test_every_shipped_teacher_is_intact_and_was_built_by_todays_recipe(family):
    """A recipe edited without rebuilding, or a damaged file, would make the demo distil another teacher
    than the one docs/demo.md describes."""
    folder = check_teacher(teacher_folder(family))
    note = json.loads((folder / BUILD_FILE).read_text())
    wanted = build_for(family)
    assert (note["zoo"], note["data"], note["sft"]) == (wanted["zoo"], wanted["data"], wanted["sft"])


def test_a_demo_recipe_naming_its_teachers_by_path_gets_them_checked(built, tmp_path):
    import yaml

    from harness.demo.models import shipped_teachers
    from harness.demo.plan import DEMO_ABLATION, effective_ablation
    from harness.sweep.ablation import load_ablation

    data = effective_ablation()
    teacher = {"family": "internvl3", "path": str(built)}
    data["overrides"]["_replace"] = ["teachers"]
    data["overrides"]["teachers"] = {k: teacher for k in ("perception_teacher", "reasoning_teacher", "planning_teacher")}
    data["variants"] = {"internvl3_agp": yaml.safe_load(DEMO_ABLATION.read_text())["variants"]["internvl3_agp"]}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data))
    recipe = load_ablation(path).recipe("internvl3_agp", {}, 0)
    assert shipped_teachers(recipe) == {f"teachers.{k}": built for k in data["overrides"]["teachers"]}
    (built / "checksums.json").rename(tmp_path / "checksums.json")
    try:
        with pytest.raises(HarnessError, match="--build-teachers"):
            shipped_teachers(recipe)
    finally:
        (tmp_path / "checksums.json").rename(built / "checksums.json")
