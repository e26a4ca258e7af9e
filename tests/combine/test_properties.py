"""Properties particular to one combiner (those every combiner shares are in test_conformance.py)."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.combine import aggregate, build_combiner, gramian
from harness.combine.agp import agp_stage1
from harness.combine.pcgrad import pcgrad_rows
from harness.combine.reference import agp_vector, pcgrad_vector, remove_conflict
from harness.combine.shuffle import orders_per_objective
from harness.registry import COMBINERS
from tests.combine.asserts import assert_same_update, seeded
from tests.combine.strategies import SETTINGS, gradient_sets, make_gradients

ALL = ["sum", "pcgrad", "agp", "mgda", "gradvac"]


def test_the_required_combiners_are_registered_with_one_line_descriptions():
    for name in ALL:
        entry = COMBINERS.entry(name)
        assert entry.description and "\n" not in entry.description


@SETTINGS
@given(gradient_sets(kinds=["no_conflict"]), st.integers(0, 100))
def test_without_conflicts_agp_counts_the_anchor_once_per_follower(case, seed):
    """No pair conflicts: AGP with the anchor counted once is the sum; its official default
    is the sum of the merged gradients, i.e. the anchor n times (facts §2)."""
    g, names, what = case
    assert_same_update(aggregate(g, names, "agp", generator=seeded(seed), anchor_once=True), g.sum(0), g, what, rtol=1e-12)
    followers = len(names) - 1
    official = g[1:].sum(0) + max(followers, 1) * g[0]
    assert_same_update(aggregate(g, names, "agp", generator=seeded(seed)), official, g, what, rtol=1e-12)


@SETTINGS
@given(gradient_sets(min_k=2), st.integers(0, 4))
def test_agp_stage1_leaves_the_anchor_alone_and_removes_every_conflict_with_it(case, anchor):
    g, names, what = case
    anchor %= len(names)
    followers = [i for i in range(len(names)) if i != anchor]
    rows = agp_stage1(gramian(g), anchor, followers)
    s = g[anchor]
    for row, c in zip(rows, followers):
        assert row[c] == 1.0, f"stage 1 must keep the follower itself: {what}"
        others = [i for i in range(len(names)) if i not in (c, anchor)]
        assert not bool(row[others].any()), f"stage 1 mixes followers: {what}"
        c_new = row @ g
        budget = float(row.abs() @ g.norm(dim=1))
        assert float(c_new @ s) >= -1e-12 * budget * float(s.norm()), f"<c', s> < 0 after stage 1: {what}"
        if float(g[c] @ s) >= 0.0:
            assert torch.equal(c_new, row @ g) and row[anchor] == 0.0, f"a follower without conflict changed: {what}"


@SETTINGS
@given(gradient_sets(min_k=2), st.booleans(), st.integers(0, 100))
def test_agp_never_changes_the_anchor(case, anchor_once, seed):
    """The anchor enters the update unchanged: with stage 2 off the update minus the
    stage-1 followers (explicit vectors) is the original anchor, once per merge
    (n times by default, once with anchor_once), never a projected version of it."""
    g, names, what = case
    gram = gramian(g)
    w = build_combiner("agp", stage2=False, anchor_once=anchor_once)(gram, names, seeded(seed))
    followers = [remove_conflict(g[c], g[0], float(g[0].norm()))[0] for c in range(1, len(names))]
    merges = 1 if anchor_once else len(names) - 1
    anchor_part = w @ g - torch.stack(followers).sum(0)
    assert_same_update(anchor_part, merges * g[0], g, what, rtol=1e-9)


@SETTINGS
@given(gradient_sets(min_k=2, max_k=2), st.integers(0, 100))
def test_two_objective_pcgrad_leaves_no_conflict_with_the_other_original(case, seed):
    g, names, what = case
    rows = pcgrad_rows(gramian(g), orders_per_objective(2, seeded(seed)))
    for i, j in ((0, 1), (1, 0)):
        t = rows[i] @ g
        budget = float(rows[i].abs() @ g.norm(dim=1))
        assert float(t @ g[j]) >= -1e-12 * budget * float(g[j].norm()), what


def test_pcgrad_shuffle_order_enters_as_documented():
    """Three gradients where the visiting order changes PCGrad's result: each seed's result
    is the vector form replayed with orders_per_objective(K, that seed), and K
    permutations are drawn per step."""
    g = torch.tensor([[1.0, 0.0], [-0.8, 0.6], [-0.6, -0.8]], dtype=torch.float64)
    names = ["a", "b", "c"]
    results = set()
    for seed in range(12):
        out = aggregate(g, names, "pcgrad", generator=seeded(seed))
        assert torch.allclose(out, pcgrad_vector(g, names, seeded(seed)), rtol=1e-12, atol=1e-15)
        results.add(tuple(round(v, 9) for v in out.tolist()))
    assert len(results) > 1, "the order should matter for these gradients"
    gen = seeded(5)
    build_combiner("pcgrad")(gramian(g), names, gen)
    replay = seeded(5)
    for _ in range(3):
        torch.randperm(3, generator=replay)
    assert torch.equal(gen.get_state(), replay.get_state()), "pcgrad must draw exactly K permutations"


def test_agp_shuffle_order_enters_as_documented():
    """AGP draws one permutation of the followers per step, only when stage 2 is on."""
    g = torch.tensor([[0.2, 0.1], [1.0, 0.0], [-0.8, 0.6], [-0.6, -0.8]], dtype=torch.float64)
    names = ["ce", "a", "b", "c"]
    results = set()
    for seed in range(12):
        out = aggregate(g, names, "agp", generator=seeded(seed))
        assert torch.allclose(out, agp_vector(g, names, seeded(seed)), rtol=1e-12, atol=1e-15)
        results.add(tuple(round(v, 9) for v in out.tolist()))
    assert len(results) > 1, "the order should matter for these gradients"
    gen = seeded(3)
    build_combiner("agp", stage2=False)(gramian(g), names, gen)
    assert torch.equal(gen.get_state(), seeded(3).get_state()), "no draw without stage 2"


def test_gradvac_starts_as_pcgrad_and_its_state_round_trips():
    g = make_gradients("random", 4, 6, seed=3, global_exponent=0.0)
    names = ["ce", "a", "b", "c"]
    first = build_combiner("gradvac", beta=0.3)
    assert torch.allclose(first(gramian(g), names, seeded(0)), build_combiner("pcgrad")(gramian(g), names, seeded(0)), rtol=1e-12)
    second = build_combiner("gradvac", beta=0.3)
    second.load_state_dict(first.state_dict())
    g2 = make_gradients("random", 4, 6, seed=4, global_exponent=0.0)
    assert torch.equal(first(gramian(g2), names, seeded(1)), second(gramian(g2), names, seeded(1)))
    assert first.state_dict()["targets"], "targets must be recorded"


@SETTINGS
@given(gradient_sets(kinds=["random", "rank_deficient", "zeros", "collinear"]), st.integers(0, 1000))
def test_mgda_is_the_min_norm_point_of_the_hull(case, seed):
    """Optimality of the min-norm point d: <d, g_k> >= |d|^2 for every k; weights on the simplex."""
    g, names, what = case
    w = build_combiner("mgda")(gramian(g), names, seeded(0))
    assert float(w.min()) >= 0.0 and abs(float(w.sum()) - 1.0) < 1e-12, what
    d = w @ g
    scale = float(g.norm(dim=1).max()) ** 2
    for k in range(len(names)):
        assert float(d @ g[k]) >= float(d @ d) - 1e-9 * scale, f"objective {k} opposes the MGDA step: {what}"
    v = torch.rand(len(names), generator=seeded(seed), dtype=torch.float64)
    v = v / v.sum()
    assert float((v @ g).norm()) >= float(d.norm()) - 1e-7 * scale**0.5, what


