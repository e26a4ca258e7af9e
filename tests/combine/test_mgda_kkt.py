"""MGDA is exact at any scales and in any order: its min-norm point satisfies the optimality conditions.

For d = sum_k w_k g_k on the simplex, d is the min-norm point of the hull exactly when
<d, g_k> >= |d|^2 for every k, with equality wherever w_k > 0 (KKT of the convex QP).
Checked on the explicit vectors, to a tolerance relative to the size of the terms each
condition is made of: (w @ |g|) @ |g_k| for <d, g_k> and |w @ |g||^2 for |d|^2, which is
what float64 rounding of the two inner products scales with (so the check means the
same at 1e-12 and at 1e12, and a d that is a rounding remainder of a cancellation
is judged as what it is).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.combine import build_combiner, gramian
from tests.combine.strategies import SETTINGS

RTOL = 1e-9


def kkt_violation(g: torch.Tensor, w: torch.Tensor) -> float:
    """Largest KKT violation relative to the terms of each condition (0 when exact)."""
    d = w @ g
    sq = float(d @ d)
    size = w @ g.abs()
    budget = size @ g.abs().T + float(size @ size)  # (K,): size of the terms of <d, g_k> - |d|^2
    worst = 0.0
    for k in range(g.shape[0]):
        gap = float(d @ g[k]) - sq
        scale = max(float(budget[k]), 1e-300)
        worst = max(worst, -gap / scale)  # <d, g_k> >= |d|^2
        if float(w[k]) > 0.0:
            worst = max(worst, abs(gap) / scale)  # = on the support
    return worst


def mgda(g: torch.Tensor) -> torch.Tensor:
    names = [f"o{k}" for k in range(g.shape[0])]
    return build_combiner("mgda")(gramian(g), names, torch.Generator().manual_seed(0))


def test_the_issue_example_with_norms_1e12_apart_is_exact_in_both_orders():
    g = torch.tensor([[-1e12, 0.0, 0.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    for rows in ([0, 1], [1, 0]):
        w = mgda(g[rows])
        d = w @ g[rows]
        a = rows.index(0)
        # before: <d, g_a> was about -1.3e8 in this order (the step opposed the first objective)
        assert float(d @ g[0]) > 0.0
        assert abs(float(d @ g[0]) - float(d @ d)) <= 1e-3 * float(d @ d), rows
        assert abs(float(d @ g[1]) - float(d @ d)) <= 1e-9 * float(d @ d), rows
        exact = (1e12 + 2) / (1e24 + 2e12 + 2)  # closed form of the two-objective min-norm weight
        assert abs(float(w[a]) / exact - 1) < 1e-12, rows
        assert kkt_violation(g[rows], w) <= RTOL


@st.composite
def scaled_gradients(draw):
    """K gradients with norms up to 24 orders of magnitude apart, some exactly parallel or opposite."""
    k = draw(st.integers(1, 5))
    p = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(k, p, generator=gen, dtype=torch.float64)
    if k >= 2 and draw(st.booleans()):
        g[1] = draw(st.sampled_from([-1.0, 2.0, -3.0])) * g[0]  # collinear pair
    exponents = torch.tensor(draw(st.lists(st.sampled_from([-12.0, -8.0, -3.0, 0.0, 4.0, 8.0, 12.0]),
                                           min_size=k, max_size=k)), dtype=torch.float64)
    g = g * (10.0 ** exponents)[:, None]
    order = draw(st.permutations(list(range(k))))
    return g, order, f"k={k} p={p} seed={seed} exponents={exponents.tolist()} order={order}"


@SETTINGS
@given(scaled_gradients())
def test_kkt_conditions_hold_for_any_scales_and_any_order(case):
    g, order, what = case
    w = mgda(g)
    assert float(w.min()) >= 0.0 and abs(float(w.sum()) - 1.0) < 1e-12, what
    assert kkt_violation(g, w) <= RTOL, f"{what}: violation {kkt_violation(g, w):.3e}"
    permuted = mgda(g[order])
    assert kkt_violation(g[order], permuted) <= RTOL, what
    # the same point whatever the order (it is unique): a point whose KKT conditions hold to e
    # lies within sqrt(e) of the min-norm point (|d - d*|^2 <= |d|^2 - <d, d*> <= e), so two such
    # points lie within twice that
    d, d_perm = w @ g, permuted @ g[order]
    e = RTOL * sum(float(((x @ y.abs()) @ y.abs().T).max() + (x @ y.abs()).norm() ** 2)
                   for x, y in ((w, g), (permuted, g[order])))
    assert float((d - d_perm).norm()) <= 2 * e**0.5, what
