"""`prepare()` wires a recipe's negative-control teacher: one shared copy and store, permuted targets."""

import pytest
import torch

from harness.data.collate import collate_train
from harness.recipe import load_recipe
from harness.runner import prepare
from harness.signals.controls import permute_image_columns

pytestmark = pytest.mark.slow

RECIPE = """\
name: control
seed: 0
student: {family: internvl3, zoo: student}
teachers:
  real: {family: internvl3, zoo: teacher_s}
  shuffled: {family: internvl3, zoo: teacher_s, control: {type: permute_image_columns, seed: 5}}
data:
  train: {name: synthetic, seed: 0, train: 6, eval: 2}
objectives:
  ce: {weight: 1.0}
  perception: {teacher: real, signal: {attention: text_to_vision, layers: first}, loss: mse}
  control: {teacher: shuffled, signal: {attention: text_to_vision, layers: first}, loss: mse, capability: perception}
combiner: sum
cache: {mode: disk}
train: {batch_size: 2, grad_accum: 1, max_steps: 1}
eval: {enabled: false}
"""


def test_prepare_gives_the_control_teacher_the_real_teachers_targets_permuted(env):
    path = env / "control.yaml"
    path.write_text(RECIPE)
    prepared = prepare(load_recipe(path), progress=False)
    assert prepared.teachers["real"] is prepared.teachers["shuffled"]  # one copy of the weights
    assert prepared.targets.path("perception") == prepared.targets.path("control")  # one store
    samples = prepared.samples[:2]
    batch = collate_train(samples, prepared.student)
    targets = prepared.targets.for_batch(samples, batch)
    image = batch.image_mask.bool() & batch.attention_mask.bool()
    expected = permute_image_columns(targets["perception"][0], image, [s.id for s in samples], 5)
    assert torch.equal(targets["control"][0], expected)
    assert not torch.equal(targets["control"][0], targets["perception"][0])
