"""A negative-control teacher (``teachers.KEY.control``): the real teacher's targets with each image's
columns permuted per sample, from the disk cache and live alike, and part of the run's identity."""

import copy

import pytest
import torch

from harness.data.collate import collate_train
from harness.errors import RecipeError
from harness.recipe import recipe_from_dict
from harness.signals.controls import permute_image_columns
from harness.train.objectives import ObjectiveSet
from harness.train.teacher_cache import TeacherCache
from tests.models.zoo_fixtures import image_paths, load_zoo, samples, zoo_cache  # noqa: F401

TEACHER = {"family": "internvl3", "zoo": "teacher_s"}
RECIPE = {
    "name": "control",
    "student": {"family": "internvl3", "zoo": "student"},
    "teachers": {"real": TEACHER, "shuffled": {**TEACHER, "control": {"type": "permute_image_columns", "seed": 3}}},
    "data": {"train": {"name": "synthetic", "train": 8}},
    "objectives": {
        "ce": {"weight": 1.0},
        "perception": {"teacher": "real", "signal": {"attention": "text_to_vision"}, "loss": "mse"},
        "reasoning": {"teacher": "real", "signal": {"attention": "full", "layers": "last"}, "loss": "mse"},
        "perception_control": {"teacher": "shuffled", "signal": {"attention": "text_to_vision"}, "loss": "mse",
                               "capability": "perception"},
        "reasoning_control": {"teacher": "shuffled", "signal": {"attention": "full", "layers": "last"}, "loss": "mse",
                              "capability": "reasoning"},
    },
}


def test_the_control_enters_the_identity_and_is_checked():
    recipe = recipe_from_dict(RECIPE)
    assert recipe.resolved["teachers"]["shuffled"]["control"] == {"type": "permute_image_columns", "seed": 3}
    assert recipe.resolved["teachers"]["real"]["control"] is None
    reseeded = copy.deepcopy(RECIPE)
    reseeded["teachers"]["shuffled"]["control"]["seed"] = 4
    plain = copy.deepcopy(RECIPE)
    del plain["teachers"]["shuffled"]["control"]
    assert len({recipe.hash, recipe_from_dict(reseeded).hash, recipe_from_dict(plain).hash}) == 3
    shorthand = copy.deepcopy(RECIPE)
    shorthand["teachers"]["shuffled"]["control"] = "permute_image_columns"
    assert recipe_from_dict(shorthand).spec.teachers["shuffled"].control.seed == 0

    hidden = copy.deepcopy(RECIPE)
    hidden["objectives"]["reasoning_control"]["signal"] = {"type": "hidden", "layers": "last"}
    hidden["objectives"]["reasoning_control"]["loss"] = "hidden"
    with pytest.raises(RecipeError, match=r"teachers\.shuffled\.control: .*'reasoning_control' distils 'hidden'"):
        recipe_from_dict(hidden)
    unknown = copy.deepcopy(RECIPE)
    unknown["teachers"]["shuffled"]["control"] = {"type": "permute_rows"}
    with pytest.raises(RecipeError, match=r"teachers\.shuffled\.control\.type"):
        recipe_from_dict(unknown)


def _cache(objectives, teacher, mode, root):
    controls = {k: t.control for k, t in objectives_spec().teachers.items() if t.control is not None}
    return TeacherCache(objectives, {"real": teacher, "shuffled": teacher}, teacher_ids={"real": "w", "shuffled": "w"},
                        data_id="d", template_id="t", mode=mode, root=root, batch_size=2, progress=False,
                        controls=controls)


def objectives_spec():
    return recipe_from_dict(RECIPE).spec


@pytest.mark.parametrize("mode", ["disk", "live"])
def test_control_targets_are_the_real_ones_permuted_with_the_cache_on_and_off(mode, load_zoo, samples, tmp_path):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_s")
    objectives = ObjectiveSet(objectives_spec(), student, {"real": teacher, "shuffled": teacher})
    cache = _cache(objectives, teacher, mode, tmp_path)
    cache.prepare(samples)
    if mode == "disk":  # the control shares the real teacher's stores
        assert cache.path("perception") == cache.path("perception_control")
        assert len([p for p in tmp_path.iterdir() if not p.name.startswith(("build-", "."))]) == 2
    batch = collate_train(samples, student)
    targets = cache.for_batch(samples, batch)
    image = batch.image_mask.bool() & batch.attention_mask.bool()
    ids = [s.id for s in samples]
    for real, control in (("perception", "perception_control"), ("reasoning", "reasoning_control")):
        (r,), (c,) = targets[real], targets[control]
        assert torch.equal(c, permute_image_columns(r, image, ids, 3))
        assert not torch.equal(c[image.any(-1)], r[image.any(-1)])  # something moved
        assert torch.allclose(c.sum(-1), r.sum(-1))
    again = cache.for_batch(samples, batch)
    assert torch.equal(again["perception_control"][0], targets["perception_control"][0])
    # the same sample permutes the same way in another batch
    alone = cache.for_batch(samples[1:2], collate_train(samples[1:2], student))["perception_control"][0][0]
    n = int(batch.attention_mask[1].sum())
    assert torch.allclose(alone[:n, :n], targets["perception_control"][0][1][:n, :n], atol=1e-5)
    out = objectives.forward_student(batch)
    losses = objectives.losses(out, batch, targets)
    assert losses["perception_control"].item() != pytest.approx(losses["perception"].item(), rel=1e-6)


def test_a_teacher_without_a_control_keeps_the_first_identitys_folder_name():
    from tests.foundation.test_identity import BASE

    # the legacy hash names run folders made before configuration hashes (rundir.check_legacy); the
    # control field did not exist then, so an absent one must not change it (value from before the field)
    assert recipe_from_dict(BASE).legacy_hash == "bce0e6902917858ec38b36971a0b24d06c2dba3093dc1f55fab8225195b57ab6"
