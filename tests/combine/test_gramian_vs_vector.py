"""Every combiner's Gramian form equals its direct vector form (rtol 1e-6, float64)."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.combine import aggregate, build_combiner
from harness.combine.shuffle import one_order, orders_per_objective
from tests.combine import reference as ref
from tests.combine.strategies import SETTINGS, assert_same_update, gradient_sets


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@SETTINGS
@given(gradient_sets(), st.lists(st.floats(-3, 3), min_size=5, max_size=5))
def test_sum(case, raw_weights):
    g, names, what = case
    weights = dict(zip(names, raw_weights))
    got = aggregate(g, names, "sum", weights=weights)
    assert_same_update(got, ref.sum_vec(g, [weights[n] for n in names]), g, what)
    assert_same_update(aggregate(g, names, "sum"), g.sum(0), g, what)


@SETTINGS
@given(gradient_sets(), st.sampled_from(["sum", "mean"]), st.integers(0, 1000))
def test_pcgrad(case, reduction, seed):
    g, names, what = case
    got = aggregate(g, names, "pcgrad", generator=seeded(seed), reduction=reduction)
    expected = ref.pcgrad_vec(g, orders_per_objective(len(names), seeded(seed)), reduction)
    assert_same_update(got, expected, g, what)


@SETTINGS
@given(gradient_sets(), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 4), st.integers(0, 1000))
def test_agp(case, stage1, stage2, anchor_once, anchor_pick, seed):
    g, names, what = case
    anchor = names[anchor_pick % len(names)]
    options = dict(anchor=anchor, stage1=stage1, stage2=stage2, anchor_once=anchor_once)
    got = aggregate(g, names, "agp", generator=seeded(seed), **options)
    order = one_order(len(names) - 1, seeded(seed)) if stage2 else None
    expected = ref.agp_vec(g, names, order, **options)
    assert_same_update(got, expected, g, f"{what} {options}")


@SETTINGS
@given(gradient_sets())
def test_mgda(case):
    g, names, what = case
    assert_same_update(aggregate(g, names, "mgda"), ref.mgda_vec(g), g, what)


@SETTINGS
@given(gradient_sets(min_k=2), st.floats(0.0, 1.0), st.integers(0, 1000))
def test_gradvac_over_several_steps(case, beta, seed):
    """GradVac keeps targets between steps: both forms must agree at every step."""
    g, names, what = case
    combiner = build_combiner("gradvac", beta=beta)
    vector = ref.GradVacVec(beta)
    gen, gen_ref = seeded(seed), seeded(seed)
    for step in range(3):
        step_g = g * (1.0 + 0.5 * step) + step * g.roll(1, dims=0)  # change the geometry between steps
        got = aggregate(step_g, names, combiner, generator=gen)
        expected = vector(step_g, orders_per_objective(len(names), gen_ref))
        assert_same_update(got, expected, step_g, f"{what} step {step}")
