"""Pure parts of training: schedules, capability mixing, reweighting, seeding."""

import random

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.train.mixing import DRIVEKD_MIXING, mixed_mean, mixing_factors
from harness.train.reweighting import GradNormReweighting
from harness.train.schedule import lr_multiplier
from harness.train.seeding import rng_state, seed_everything, set_rng_state


def test_linear_schedule_with_warmup():
    f = lr_multiplier("linear", total_steps=10, warmup_steps=2)
    assert [round(f(s), 3) for s in range(0, 11, 2)] == [0.5, 1.0, 0.75, 0.5, 0.25, 0.0]


def test_cosine_and_constant():
    cos = lr_multiplier("cosine", 100)
    assert cos(0) == pytest.approx(1.0) and cos(50) == pytest.approx(0.5) and cos(100) == pytest.approx(0.0)
    assert lr_multiplier("constant", 5)(4) == 1.0


def test_drivekd_mixing_rows():
    assert DRIVEKD_MIXING["planning"] == {"perception": 0.1, "reasoning": 0.1, "planning": 0.8}
    f = mixing_factors(["perception", "planning", "reasoning"], "planning")
    assert f.tolist() == pytest.approx([0.1, 0.8, 0.1])


def test_free_named_objective_is_not_mixed():
    assert mixing_factors(["perception", "planning"], "my_teacher").tolist() == [1.0, 1.0]


def test_mixed_mean_is_the_weighted_batch_mean():
    loss = torch.tensor([1.0, 2.0, 4.0])
    assert mixed_mean(loss, torch.tensor([0.8, 0.1, 0.1])).item() == pytest.approx((0.8 + 0.2 + 0.4) / 3)
    with pytest.raises(ValueError):
        mixed_mean(loss, torch.ones(2))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=5), st.integers(0, 2**31))
@example([0.001, 0.0010000000000000002], 0)  # at the target: a rounding-noise gradient once took a full step
def test_gradnorm_moves_shares_toward_the_targets(norms, seed):
    names = ["ce"] + [f"t{i}" for i in range(len(norms) - 1)]
    gram = torch.diag(torch.tensor(norms, dtype=torch.float64) ** 2)
    target = torch.full((len(norms),), 1.0 / len(norms), dtype=torch.float64)
    rw = GradNormReweighting(lr=0.05, min_anchor=0.0)

    def error(m):
        w = m * gram.diagonal().sqrt()
        return ((w / w.sum() - target) ** 2).sum().item()

    before = error(rw.multipliers(names))
    for _ in range(200):
        m = rw.update(gram, names, [1.0] * len(norms))
    assert error(m) <= before + 1e-12


def test_gradnorm_keeps_the_anchor_floor_and_resumes():
    names = ["ce", "perception"]
    gram = torch.diag(torch.tensor([100.0, 1e-4], dtype=torch.float64))
    rw = GradNormReweighting(lr=0.5, min_anchor=0.6)
    for _ in range(100):
        m = rw.update(gram, names, [1.0, 1.0])
    assert m[0] >= 0.6
    clone = GradNormReweighting(lr=0.5, min_anchor=0.6)
    clone.load_state_dict(rw.state_dict())
    assert torch.equal(clone.multipliers(names), rw.multipliers(names))


def test_scaled_gramian_equals_gramian_of_scaled_gradients():
    g = torch.randn(3, 7, dtype=torch.float64)
    m = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)
    scaled = GradNormReweighting.apply(g @ g.T, m)
    assert torch.allclose(scaled, (m[:, None] * g) @ (m[:, None] * g).T)


def test_rng_state_round_trip():
    gen = seed_everything(5)
    state = rng_state(gen)
    first = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item())
    set_rng_state(state, gen)
    again = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item())
    assert first == again


def test_reweighted_sum_weights_are_the_multipliers_and_state_round_trips():
    from harness.combine import build_combiner
    from harness.combine.reweighted import Reweighted

    names = ["ce", "perception"]
    gram = torch.tensor([[4.0, 0.0], [0.0, 1e-4]], dtype=torch.float64)
    combiner = Reweighted(build_combiner("sum"), GradNormReweighting(lr=0.1), {"ce": 1.0, "perception": 1.0})
    w = combiner(gram, names, torch.Generator().manual_seed(0))
    assert torch.allclose(w, combiner.last_multipliers)
    assert w[1] > w[0]  # the objective with the tiny gradient is weighted up
    clone = Reweighted(build_combiner("sum"), GradNormReweighting(lr=0.1), {"ce": 1.0, "perception": 1.0})
    clone.load_state_dict(combiner.state_dict())
    assert torch.equal(clone(gram, names), combiner(gram, names))
