"""Run identity: the configuration hash covers every default and version, not labels or operations."""

import json
import subprocess
import sys

import pytest

from harness.errors import RecipeError
from harness.recipe import load_recipe, recipe_from_dict
from harness.registry import COMBINERS, RECORDERS
from harness.rundir import open_run, run_path

TEACHER = {"family": "internvl3", "zoo": "teacher_s"}
BASE = {
    "name": "r",
    "student": {"family": "internvl3", "zoo": "student"},
    "teachers": {"t": TEACHER},
    "data": {"train": {"name": "synthetic", "train": 8}},
    "objectives": {
        "ce": {"weight": 1.0},
        "planning": {"teacher": "t", "signal": {"attention": "full"}, "loss": "mse"},
        "perception": {"teacher": "t", "signal": {"attention": "text_to_vision"}, "loss": "mse"},
    },
    "combiner": "agp",
}


def test_component_defaults_versions_and_mixing_are_filled_in():
    resolved = recipe_from_dict(BASE).resolved
    assert resolved["combiner"] == {"name": "agp", "anchor": "ce", "stage1": True, "stage2": True, "anchor_once": False}
    assert resolved["data"]["train"]["seed"] == 0 and resolved["data"]["train"]["train"] == 8
    assert resolved["versions"]["combiners"] == {"agp": 1}
    assert resolved["versions"]["families"] == {"internvl3": 1}
    assert resolved["mixing"]["planning"] == {"perception": 0.1, "reasoning": 0.1, "planning": 0.8}


def test_a_changed_default_or_version_changes_the_identity(monkeypatch):
    agp = COMBINERS.get("agp")
    before = recipe_from_dict(BASE).hash
    monkeypatch.setattr(agp, "version", 2)
    bumped = recipe_from_dict(BASE).hash
    monkeypatch.undo()
    defaults = list(agp.__init__.__defaults__)
    monkeypatch.setattr(agp.__init__, "__defaults__", (defaults[0], defaults[1], False, defaults[3]))
    changed = recipe_from_dict(BASE).hash
    assert len({before, bumped, changed}) == 3


def test_a_bumped_recorder_version_changes_the_identity_and_version_1_is_implicit(monkeypatch):
    """A recorder decides what a target is read from, so a change to it must not reuse old runs;
    its first version is left out so identities made before recorders had versions hold."""
    recipe = recipe_from_dict(BASE)
    assert "recorders" not in recipe.resolved["versions"]
    monkeypatch.setattr(RECORDERS.get("attention"), "version", 2)
    bumped = recipe_from_dict(BASE)
    assert bumped.resolved["versions"]["recorders"] == {"attention": 2}
    assert bumped.hash != recipe.hash


def test_seed_labels_and_operational_fields_stay_out_of_the_identity():
    h = recipe_from_dict(BASE).hash
    for extra in ({"seed": 7}, {"name": "other"}, {"description": "words"},
                  {"train": {"log_every": 5, "checkpoint_every": 3}}, {"eval": {"batch_size": 2}},
                  {"cache": {"dir": "/tmp/elsewhere"}}, {"data": {"train": {"name": "synthetic", "train": 8, "root": "/x"}}}):
        assert recipe_from_dict({**BASE, **extra}).hash == h, extra
    assert recipe_from_dict({**BASE, "train": {"lr": 1e-3}}).hash != h


def test_objective_order_does_not_change_what_trains():
    flipped = dict(BASE, objectives=dict(reversed(list(BASE["objectives"].items()))))
    a, b = recipe_from_dict(BASE), recipe_from_dict(flipped)
    assert a.hash == b.hash
    assert list(a.spec.objectives) == list(b.spec.objectives) == ["ce", "perception", "planning"]


def test_a_resolved_recipe_reads_back_to_itself(tmp_path):
    recipe = recipe_from_dict(BASE)
    path = tmp_path / "recipe.resolved.yaml"
    path.write_text(recipe.to_yaml())
    again = load_recipe(path)
    assert again.hash == recipe.hash and again.resolved == recipe.resolved
    assert list(again.spec.objectives) == list(recipe.spec.objectives)


def test_a_version_the_code_no_longer_has_is_refused(tmp_path):
    data = recipe_from_dict(BASE).resolved
    data["versions"]["combiners"]["agp"] = 0
    with pytest.raises(RecipeError, match=r"versions\.combiners\.agp: .*version 0.*version 1"):
        recipe_from_dict(data)


def test_seeds_of_one_configuration_share_the_hash8(tmp_path):
    a, b = recipe_from_dict({**BASE, "seed": 1}), recipe_from_dict({**BASE, "seed": 2})
    pa, pb = run_path(tmp_path, a.name, a.hash, a.seed), run_path(tmp_path, b.name, b.hash, b.seed)
    assert pa.name.split("-s")[0] == pb.name.split("-s")[0] and pa != pb


def test_a_first_identity_folder_is_refused_clearly_and_force_starts_afresh(tmp_path):
    from harness.errors import HarnessError

    recipe = recipe_from_dict(BASE)
    old = run_path(tmp_path, recipe.name, recipe.legacy_hash, recipe.seed)
    old.mkdir(parents=True)
    (old / "run.json").write_text(json.dumps({"status": "finished"}))
    kw = dict(recipe_name=recipe.name, config_hash=recipe.hash, seed=recipe.seed, resolved_yaml=recipe.to_yaml(),
              legacy_hash=recipe.legacy_hash)
    with pytest.raises(HarnessError, match="before run folders were named by their configuration hash"):
        open_run(tmp_path, **kw)
    assert not run_path(tmp_path, recipe.name, recipe.hash, recipe.seed).exists()
    opened = open_run(tmp_path, force=True, **kw)
    assert opened.run.path == run_path(tmp_path, recipe.name, recipe.hash, recipe.seed)
    assert json.loads((old / "run.json").read_text()) == {"status": "finished"}
    assert opened.run.info()["config_hash"] == recipe.hash and opened.run.info()["identity"] == 2


def test_validate_json_prints_file_hash_and_run_folder(tmp_path):
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(BASE))
    out = subprocess.run([sys.executable, "-m", "harness.cli", "validate", "--json", "--results", str(tmp_path), str(path)],
                         capture_output=True, text=True, check=True).stdout
    record = json.loads(out)
    recipe = load_recipe(path)
    assert record == {"file": str(path), "config_hash": recipe.hash,
                      "run_folder": str(run_path(tmp_path, "r", recipe.hash, recipe.seed))}


def _teacher_folder(root, weights: bytes):
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model_type": "internvl"}))
    (root / "model.safetensors").write_bytes(weights)
    return root


def _with_path_teacher(path) -> dict:
    return {**BASE, "teachers": {"t": {"family": "internvl3", "path": str(path)}}}


def test_a_teacher_named_by_path_is_identified_by_its_content_not_its_place(tmp_path):
    """The same teacher in another checkout is the same run; the teacher rebuilt in place is not
    (before, the absolute path was the identity: both the other way round)."""
    here = _teacher_folder(tmp_path / "a" / "teachers" / "internvl3", b"weights-1")
    there = _teacher_folder(tmp_path / "b" / "teachers" / "internvl3", b"weights-1")
    first = recipe_from_dict(_with_path_teacher(here))
    assert recipe_from_dict(_with_path_teacher(there)).hash == first.hash
    assert first.resolved["teachers"]["t"]["path"] == str(here)  # the recipe still says where it is
    (here / "model.safetensors").write_bytes(b"weights-two")  # another size: the in-process memo keys on size and mtime
    assert recipe_from_dict(_with_path_teacher(here)).hash != first.hash
    (here / "model.safetensors").write_bytes(b"weights-1")
    assert recipe_from_dict(_with_path_teacher(here)).hash == first.hash


def test_a_path_that_is_not_a_folder_is_identified_as_written(tmp_path):
    a, b = (recipe_from_dict(_with_path_teacher(tmp_path / name)).hash for name in ("x", "y"))
    assert a != b


def test_a_student_named_by_path_is_identified_by_its_content(tmp_path):
    folders = [_teacher_folder(tmp_path / name, b"student") for name in ("a", "b")]
    hashes = {recipe_from_dict({**BASE, "student": {"family": "internvl3", "path": str(f)}}).hash for f in folders}
    assert len(hashes) == 1
