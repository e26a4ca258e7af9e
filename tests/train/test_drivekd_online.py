"""drivekd_online against a plain re-derivation of the released trainer's rule (NumPy, float64).

The re-derivation writes the L1 loss's gradient by hand and AdamW by hand, so it
shares no code with the implementation (which uses torch autograd and torch's AdamW).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.combine import build_combiner
from harness.combine.reweighted import Reweighted
from harness.train.drivekd_online import DriveKDOnline

NAMES = ["ce", "perception", "reasoning", "planning"]


def plain_rule(norm_steps, static, *, lr=3e-4, b1=0.9, b2=0.99, adam_eps=1e-8, floor=0.6,
               w_eps=1e-8, w_min=1e-6, w_max=1e6):
    """The rule as the released code's equations say, step by step; returns the weights after each update."""
    static = np.asarray(static, dtype=np.float64)
    a = np.log(np.maximum(np.expm1(np.clip(static, w_min, w_max)), 1e-20))
    m, v = np.zeros_like(a), np.zeros_like(a)

    def weights(a):
        raw = np.log1p(np.exp(a)) + w_eps
        w = np.clip(raw, w_min, w_max)
        mask = (raw >= w_min) & (raw <= w_max)
        if w[0] < floor:
            mask[0] = False  # torch.clamp passes no gradient below its floor
        w[0] = max(w[0], floor)
        return w, mask

    out, closest = [], np.inf
    for t, n in enumerate(norm_steps, start=1):
        n = np.asarray(n, dtype=np.float64)
        w, mask = weights(a)
        p = static / static.sum()
        r = w * n - p * (w * n).sum()
        closest = min(closest, float(np.abs(r).min() / (w * n).sum()))
        sign = np.sign(r)
        grad_w = n * (sign - (p * sign).sum())  # d/dw_i of sum_k |w_k n_k - p_k sum_j w_j n_j|
        grad_a = grad_w * mask / (1.0 + np.exp(-a))  # softplus' = sigmoid
        m = b1 * m + (1 - b1) * grad_a
        v = b2 * v + (1 - b2) * grad_a ** 2
        a = a - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + adam_eps)
        w, _ = weights(a)
        w = np.clip(w * static.sum() / w.sum(), w_min, w_max)
        w[0] = max(w[0], floor)
        a = np.log(np.maximum(np.expm1(w), 1e-20))
        out.append(weights(a)[0])
    plain_rule.closest_tie = closest  # how near a share came to its target (where |.| has a kink)
    return out


def run_rule(norm_steps, static):
    """The implementation fed plain gradient norms (scale 1: the Gramian is of the unweighted losses)."""
    rw = DriveKDOnline()
    names = NAMES[: len(static)]
    for n in norm_steps:
        gram = torch.diag(torch.tensor(n, dtype=torch.float64) ** 2)
        rw.update(gram, names, static, scales={name: 1.0 for name in names})
        rw.end_step()
    return rw


def test_weights_after_many_updates_equal_the_plain_rule_on_recorded_norms():
    gen = np.random.default_rng(0)
    base = np.array([4.0, 0.02, 0.3, 0.05])  # CE's gradient is far larger than the attention losses'
    norm_steps = [base * np.exp(gen.normal(0, 0.3, 4)) for _ in range(400)]
    rw = run_rule(norm_steps, [1.0] * 4)
    expected = plain_rule(norm_steps, [1.0] * 4)[-1]
    assert rw.updates == 400
    np.testing.assert_allclose(rw.weights().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_it_settles_where_the_released_code_does():
    # fixed norms with a dominant CE: CE held at its floor 0.6, the three teachers share the rest (≈ 1.13)
    rw = run_rule([[4.0, 0.02, 0.3, 0.05]] * 3000, [1.0] * 4)
    w = rw.weights().numpy()
    assert w[0] == pytest.approx(0.6, abs=1e-6)
    np.testing.assert_allclose(w[1:], (4 - 0.6) / 3, atol=5e-3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(1e-3, 1e2), min_size=3, max_size=3), min_size=1, max_size=25),
       st.lists(st.floats(0.2, 3.0), min_size=3, max_size=3))
def test_matches_the_plain_rule_for_any_norms_and_static_weights(norm_steps, static):
    expected = plain_rule(norm_steps, static)[-1]
    # at a share exactly on its target the L1 loss has a kink, where float32 and float64 rounding pick
    # different subgradients; elsewhere the two must agree
    assume(plain_rule.closest_tie > 1e-5)
    rw = run_rule(norm_steps, static)
    np.testing.assert_allclose(rw.weights().numpy(), expected, rtol=2e-5, atol=1e-6)


def test_the_step_uses_the_mean_of_its_micro_batches_norms():
    steps = [[2.0, 0.1, 0.5], [1.0, 0.4, 0.2]]
    one = DriveKDOnline()
    for n in steps:  # two micro-batches per step, each half/double the mean
        for f in (0.5, 1.5):
            one.update(torch.diag(torch.tensor(n, dtype=torch.float64) * f) ** 2, NAMES[:3], [1.0] * 3)
        one.end_step()
    np.testing.assert_allclose(one.weights().numpy(), plain_rule(steps, [1.0] * 3)[-1], rtol=1e-5)


def test_scales_are_divided_out_of_the_gramian():
    # the combiner sees weight x mixing x gradient; the rule wants the plain gradient's norm
    n = torch.tensor([2.0, 0.1, 0.5], dtype=torch.float64)
    s = {"ce": 1.0, "perception": 0.8, "reasoning": 0.1}
    scaled = torch.diag((n * torch.tensor(list(s.values()), dtype=torch.float64)) ** 2)
    a, b = DriveKDOnline(), DriveKDOnline()
    a.update(scaled, NAMES[:3], [1.0] * 3, scales=s)
    b.update(torch.diag(n ** 2), NAMES[:3], [1.0] * 3)
    a.end_step(), b.end_step()
    assert torch.allclose(a.weights(), b.weights())


def test_multipliers_turn_static_weights_into_learned_ones():
    rw = DriveKDOnline()
    m = rw.update(torch.eye(3, dtype=torch.float64), NAMES[:3], [2.0, 1.0, 0.0])
    # before any update w = static (+1e-8), so the multiplier on static-weighted gradients is 1; weight 0 stays 0
    assert torch.allclose(m, torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), atol=1e-6)


def test_state_resumes_to_the_same_weights():
    gen = np.random.default_rng(1)
    norm_steps = [np.abs(gen.normal(1, 0.5, 4)) + 0.01 for _ in range(30)]
    whole = run_rule(norm_steps, [1.0] * 4)
    first = run_rule(norm_steps[:12], [1.0] * 4)
    resumed = DriveKDOnline()
    resumed.load_state_dict(first.state_dict())
    for n in norm_steps[12:]:
        resumed.update(torch.diag(torch.tensor(n, dtype=torch.float64) ** 2), NAMES, [1.0] * 4)
        resumed.end_step()
    assert torch.equal(resumed.weights(), whole.weights())


def test_the_engine_ends_each_step_once_through_the_reweighted_combiner():
    from harness.combine.gradients import CombinedBackward

    x = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    combiner = Reweighted(build_combiner("agp"), DriveKDOnline(), {"ce": 1.0, "perception": 1.0})
    engine = CombinedBackward([x], combiner)
    for _ in range(3):
        for _micro in range(4):
            engine.backward({"ce": (x ** 2).sum(), "perception": 0.8 * (x[0] - 3) ** 2},
                            scales={"ce": 1.0, "perception": 0.8})
        engine.finish()
    assert combiner.reweighting.updates == 3
