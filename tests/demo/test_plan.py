"""The demo's plan is plain data: the demo ablation file, and its quick form."""

from __future__ import annotations

import pytest
import yaml

from harness.demo.plan import (DEMO_ABLATION, DRIVEBENCH_ABLATION, FAMILIES, METHODS, NEGATIVE_CONTROL, QUICK_DATA,
                               QUICK_STEPS, REFERENCE_VARIANT, effective_ablation, families)
from harness.sweep.ablation import load_ablation


def test_the_drivebench_study_has_every_method_for_both_families_with_two_seeds():
    ablation = load_ablation(DRIVEBENCH_ABLATION)  # builds every variant's recipe: a typo fails here
    assert len(ablation.seeds) >= 2
    by_family: dict[str, set[str]] = {}
    for variant in ablation.spec.variants:
        spec = ablation.recipe(variant, {}, ablation.seeds[0]).spec
        by_family.setdefault(spec.student.family, set()).add(spec.description)
        assert all(t.family == spec.student.family for t in spec.teachers.values()), variant
        assert set(spec.eval.settings) == {"clean", "text_only", "fog", "low_light"}
        assert spec.eval.judge.name == "rubric"
    assert by_family == {f: set(METHODS) - {NEGATIVE_CONTROL} for f in FAMILIES}  # no control in this study


def test_every_run_of_a_family_shares_one_teacher_and_one_pretrained_student():
    ablation = load_ablation(DRIVEBENCH_ABLATION)
    for family in FAMILIES:
        teachers, students = set(), set()
        for variant in ablation.spec.variants:
            for seed in ablation.seeds:
                spec = ablation.recipe(variant, {}, seed).spec
                if spec.student.family != family:
                    continue
                students.add(spec.student.sft.model_dump_json())
                teachers.update(t.model_dump_json() for t in spec.teachers.values())
        assert len(students) == 1 and len(teachers) == 1, family
        # fixed SFT seeds: the run seed never reaches the fine-tuning
        assert '"seed":0' in students.pop() and '"seed":0' in teachers.pop()


@pytest.mark.parametrize("source", [DEMO_ABLATION, DRIVEBENCH_ABLATION], ids=["demo", "drivebench"])
def test_quick_form_cuts_every_size_and_keeps_the_structure(source, tmp_path):
    full = effective_ablation(source)
    quick = effective_ablation(source, quick=True)
    assert quick["name"] == full["name"] + "_quick"
    assert list(quick["variants"]) == list(full["variants"]) and quick["seeds"] == full["seeds"]
    text = yaml.safe_dump(quick)

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "synthetic":
                assert all(node[k] <= cap for k, cap in QUICK_DATA.items()), node
            for key in ("sft", "train"):
                if isinstance(node.get(key), dict):
                    assert node[key]["max_steps"] == QUICK_STEPS, (key, node[key])
                    assert node[key].get("grounding_steps", 0) <= QUICK_STEPS
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(quick)
    assert f"max_steps: {QUICK_STEPS}\n" in text
    path = tmp_path / "quick.yaml"
    path.write_text(text)
    ablation = load_ablation(path)  # still a valid study
    assert families(quick) == list(FAMILIES)
    assert all(REFERENCE_VARIANT.format(family=f) in ablation.spec.variants for f in FAMILIES)
    assert full["variants"] == effective_ablation(source)["variants"]  # the full form was not touched


def test_model_paths_in_the_demo_file_are_made_absolute_against_it(tmp_path):
    """A teacher named by ``path`` (a shipped demo teacher) loads from wherever the effective file is written."""
    source = tmp_path / "demo.yaml"
    data = yaml.safe_load(DRIVEBENCH_ABLATION.read_text())
    data["base"] = str((DRIVEBENCH_ABLATION.parent / data["base"]).resolve())
    data["overrides"]["teachers"]["perception_teacher"] = {"family": "internvl3", "path": "teachers/internvl3"}
    source.write_text(yaml.safe_dump(data))
    effective = effective_ablation(source)
    assert effective["overrides"]["teachers"]["perception_teacher"]["path"] == str(tmp_path / "teachers" / "internvl3")
    assert effective["overrides"]["teachers"]["reasoning_teacher"].get("path") is None  # zoo models untouched


def test_the_demo_is_the_colour_study_with_the_controls_of_each_family_on_its_shipped_teacher():
    from harness.demo.teachers import teacher_folder

    ablation = load_ablation(DEMO_ABLATION)  # every variant's recipe builds
    data = effective_ablation(DEMO_ABLATION)
    by_family: dict[str, dict[str, object]] = {}
    for variant in data["variants"]:
        spec = ablation.recipe(variant, {}, ablation.seeds[0]).spec
        by_family.setdefault(spec.student.family, {})[spec.description] = spec
        assert spec.data.eval.model_dump()["templates"] == ["object_colour"]
        assert spec.student.zoo == "student" and spec.student.sft is None  # data-scarce, from random weights
    assert set(by_family) == set(FAMILIES)
    for family, methods in by_family.items():
        assert set(methods) == {"SFT (CE only)", "single teacher: perception", "multi-teacher: AGP", NEGATIVE_CONTROL}
        assert {spec.train.max_steps for spec in methods.values()} == {400}  # one budget for every method
        for description, spec in methods.items():
            for teacher in spec.teachers.values():
                assert teacher.family == family and teacher.sft is None
                assert teacher.path.endswith(f"teachers/{family}")
                assert (teacher.control is not None) == (description == NEGATIVE_CONTROL)
    # run from anywhere: the demo writes the shipped teachers' paths absolute
    for variant in data["variants"].values():
        for teacher in (variant.get("teachers") or {}).values():
            assert teacher["path"] == str(teacher_folder(teacher["family"]).resolve())
    assert families(data) == list(FAMILIES)


def test_a_demo_of_another_study_goes_to_its_own_folder_and_a_missing_file_is_one_line(tmp_path, monkeypatch):
    from harness.demo.pipeline import plan_demo
    from harness.errors import HarnessError

    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    plan = plan_demo(ablation=DRIVEBENCH_ABLATION)
    assert plan.out == tmp_path / "demo-drivebench_methods" and plan.ablation.is_file()
    assert plan_demo(ablation=DRIVEBENCH_ABLATION, quick=True).out == tmp_path / "demo-drivebench_methods-quick"
    assert plan_demo().out == tmp_path / "demo"
    with pytest.raises(HarnessError, match="no such demo ablation file"):
        plan_demo(ablation=tmp_path / "missing.yaml")
