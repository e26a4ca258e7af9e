"""The optimized step (captured layers, cached targets, Gramian weights) equals the plain one."""

import pytest
import torch

from harness.combine.gradients import CombinedBackward
from harness.data.collate import collate_train
from harness.recipe import load_recipe
from harness.runner import prepare
from harness.train.reference import ReferenceStep

pytestmark = pytest.mark.slow


def optimized_update(prepared, samples, generator):
    params = [p for p in prepared.student.model.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    batch = collate_train(samples, prepared.student)
    targets = prepared.targets.for_batch(samples, batch)
    losses = prepared.objectives.losses(prepared.objectives.forward_student(batch), batch, targets)
    engine = CombinedBackward(params, prepared.combiner, generator=generator)
    engine.backward(losses)
    engine.finish()
    return torch.cat([p.grad.reshape(-1).to(torch.float64) for p in params])


@pytest.mark.parametrize("cache,combiner,rtol", [
    ("live", "agp", 1e-5), ("disk", "agp", 2e-2), ("live", "pcgrad", 1e-5),
    # options reach the vector form too (the reference step once ran official AGP and summed PCGrad whatever they said)
    ("live", "agp,combiner.anchor_once=true,combiner.stage1=false", 1e-5), ("live", "pcgrad,combiner.reduction=mean", 1e-5),
])
def test_same_update_as_the_reference(tiny_recipe, cache, combiner, rtol):
    name, *options = combiner.split(",")
    recipe = tiny_recipe(f"ref_{cache}_{name}_{len(options)}", cache=cache)
    prepared = prepare(load_recipe(recipe, [f"combiner={name}", *options]), progress=False)
    samples = prepared.samples[:2]
    fast = optimized_update(prepared, samples, torch.Generator().manual_seed(7))
    slow = ReferenceStep(prepared).update(samples, torch.Generator().manual_seed(7))
    assert fast.shape == slow.shape
    error = (fast - slow).norm() / slow.norm()
    assert error <= rtol, f"relative difference {error:.2e}"
