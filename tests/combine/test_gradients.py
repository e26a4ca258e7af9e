"""The per-objective gradient engine on a small real model."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from harness.combine import aggregate, build_combiner
from harness.combine.gradients import CombinedBackward, trainable_parameters
from harness.registry import COMBINERS

NAMES = ["ce", "perception", "planning"]


class TwoHeads(nn.Module):
    """A trunk shared by every objective, a head only 'planning' uses, and a frozen bias."""

    def __init__(self, dtype=torch.float64):
        super().__init__()
        torch.manual_seed(0)
        self.trunk = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)
        self.plan_head = nn.Linear(3, 1).to(dtype)
        self.frozen = nn.Parameter(torch.ones(3, dtype=dtype), requires_grad=False)
        self.trunk_calls = 0

    def forward(self, x):
        h = self.trunk(x) + self.frozen
        if h.requires_grad:
            h.register_hook(self._count)
        return h, self.plan_head(h)

    def _count(self, grad):
        self.trunk_calls += 1


def batch(seed: int, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(6, 5, generator=gen, dtype=dtype), torch.randn(6, generator=gen, dtype=dtype)


def losses_of(model, x, y):
    h, plan = model(x)
    return {
        "ce": ((h[:, 0] - y) ** 2).mean(),
        "perception": ((h[:, 0] + y) ** 2).mean() + h[:, 1].pow(2).mean(),  # pulls h0 the other way
        "planning": (plan[:, 0] - h[:, 1]).pow(2).mean() - 0.5 * h[:, 2].mean(),
    }


def flat_objective_grads(model, x, y) -> torch.Tensor:
    """K×P gradients from one separate forward and backward per objective (the plain path)."""
    params = trainable_parameters(model)
    rows = []
    for name in NAMES:
        loss = losses_of(model, x, y)[name]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]))
    return torch.stack(rows)


def flat_grad(model) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in trainable_parameters(model)])


@pytest.mark.parametrize("name", COMBINERS.names())  # every registered combiner through the engine
def test_engine_writes_the_combined_gradient(name):
    model = TwoHeads()
    x, y = batch(1)
    expected = aggregate(flat_objective_grads(model, x, y), NAMES, name, generator=torch.Generator().manual_seed(7))
    engine = CombinedBackward(model, build_combiner(name), generator=torch.Generator().manual_seed(7), per_objective=True)
    record = engine.backward(losses_of(model, x, y))
    assert torch.allclose(flat_grad(model), expected, rtol=1e-10, atol=1e-12)
    assert model.frozen.grad is None
    assert record.gramian is not None and record.gramian.shape == (3, 3)


def test_the_objectives_really_conflict_in_this_model():
    model = TwoHeads()
    x, y = batch(1)
    g = flat_objective_grads(model, x, y)
    assert float((g @ g.T).min()) < 0.0
    assert not torch.allclose(aggregate(g, NAMES, "agp"), g.sum(0))


def test_sum_takes_a_single_backward_and_the_others_one_per_objective():
    model = TwoHeads()
    x, y = batch(2)
    expected = flat_objective_grads(model, x, y).sum(0)
    model.trunk_calls = 0
    engine = CombinedBackward(model, build_combiner("sum"))
    record = engine.backward(losses_of(model, x, y))
    assert model.trunk_calls == 1
    assert record.gramian is None and record.diagnostics()["weights"] == {n: 1.0 for n in NAMES}
    assert torch.allclose(flat_grad(model), expected, rtol=1e-12)

    model.zero_grad(set_to_none=True)
    model.trunk_calls = 0
    CombinedBackward(model, build_combiner("pcgrad")).backward(losses_of(model, x, y))
    assert model.trunk_calls == len(NAMES)


def test_weighted_sum_uses_its_static_weights():
    model = TwoHeads()
    x, y = batch(3)
    weights = {"ce": 1.0, "perception": 0.25, "planning": 2.0}
    expected = torch.tensor([1.0, 0.25, 2.0], dtype=torch.float64) @ flat_objective_grads(model, x, y)
    CombinedBackward(model, build_combiner("sum", weights=weights)).backward(losses_of(model, x, y))
    assert torch.allclose(flat_grad(model), expected, rtol=1e-12)


def test_gradients_are_added_to_what_is_already_there():
    model = TwoHeads()
    x, y = batch(4)
    for p in trainable_parameters(model):
        p.grad = torch.full_like(p, 0.5)
    expected = 0.5 + aggregate(flat_objective_grads(model, x, y), NAMES, "agp")
    CombinedBackward(model, build_combiner("agp")).backward(losses_of(model, x, y))
    assert torch.allclose(flat_grad(model), expected, rtol=1e-10)


def test_accumulation_per_micro_batch_and_per_step():
    model = TwoHeads()
    batches = [batch(10), batch(11)]
    per_mb = [flat_objective_grads(model, x, y) for x, y in batches]
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731

    g = gen()
    expected_micro = sum(aggregate(grads, NAMES, "pcgrad", generator=g) for grads in per_mb)
    engine = CombinedBackward(model, build_combiner("pcgrad"), generator=gen(), combine_per="micro_batch")
    for x, y in batches:
        engine.backward(losses_of(model, x, y))
    assert len(engine.finish()) == 2
    assert torch.allclose(flat_grad(model), expected_micro, rtol=1e-10)

    model.zero_grad(set_to_none=True)
    expected_step = aggregate(per_mb[0] + per_mb[1], NAMES, "pcgrad", generator=gen())
    engine = CombinedBackward(model, build_combiner("pcgrad"), generator=gen(), combine_per="step")
    for x, y in batches:
        assert engine.backward(losses_of(model, x, y)) is None
        assert all(p.grad is None for p in trainable_parameters(model)), "per-step mode writes only in finish()"
    (record,) = engine.finish()
    assert torch.allclose(flat_grad(model), expected_step, rtol=1e-10)
    assert not torch.allclose(expected_step, expected_micro), "the two modes should differ on conflicting objectives"
    assert record.diagnostics()["conflicts"] >= 1


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_on_cpu(dtype):
    model = TwoHeads(dtype=torch.float32)
    x, y = batch(5, dtype=torch.float32)
    with torch.autocast("cpu", dtype=dtype):
        expected = aggregate(flat_objective_grads(model, x, y), NAMES, "agp")
        engine = CombinedBackward(model, build_combiner("agp"))
        engine.backward(losses_of(model, x, y))
    got = flat_grad(model)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bf16_parameters_get_bf16_gradients():
    model = TwoHeads(dtype=torch.bfloat16)
    x, y = batch(6, dtype=torch.bfloat16)
    expected = aggregate(flat_objective_grads(model, x, y).float(), NAMES, "pcgrad")
    CombinedBackward(model, build_combiner("pcgrad")).backward(losses_of(model, x, y))
    got = flat_grad(model)
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), expected, rtol=2e-2, atol=2e-2)


def test_non_finite_gradients_reach_grad_for_the_loss_scaler():
    model = TwoHeads()
    x, y = batch(7)
    losses = losses_of(model, x, y)
    losses["planning"] = losses["planning"] * float("inf")
    CombinedBackward(model, build_combiner("agp")).backward(losses)
    assert not torch.isfinite(flat_grad(model)).all()


def test_diagnostics_are_json_and_match_the_gradients():
    model = TwoHeads()
    x, y = batch(8)
    g = flat_objective_grads(model, x, y)
    engine = CombinedBackward(model, build_combiner("agp"))
    engine.backward(losses_of(model, x, y))
    (record,) = engine.finish()
    diag = json.loads(json.dumps(record.diagnostics(), allow_nan=False))
    norms = g.norm(dim=1)
    for i, a in enumerate(NAMES):
        assert diag["grad_norms"][a] == pytest.approx(float(norms[i]), rel=1e-12)
        for j, b in enumerate(NAMES):
            assert diag["cosine"][a][b] == pytest.approx(float(g[i] @ g[j] / (norms[i] * norms[j])), rel=1e-9, abs=1e-12)
    conflicts = [(a, b) for i, a in enumerate(NAMES) for j, b in enumerate(NAMES) if j > i and float(g[i] @ g[j]) < 0]
    assert diag["conflicts"] == len(conflicts) and [tuple(p) for p in diag["conflicting_pairs"]] == conflicts
    assert list(diag["weights"]) == NAMES
    weights = torch.tensor([diag["weights"][n] for n in NAMES], dtype=torch.float64)
    assert diag["combined_norm"] == pytest.approx(float((weights @ g).norm()), rel=1e-9)  # the vector it adds to .grad


def test_diagnostics_with_a_zero_gradient_have_no_nan():
    from harness.combine import diagnostics

    gram = torch.tensor([[4.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    diag = diagnostics(gram, ["ce", "a"], torch.ones(2))
    assert diag["cosine"]["ce"]["a"] is None and diag["cosine"]["ce"]["ce"] == 1.0
    assert diag["conflicts"] == 0
    json.dumps(diag, allow_nan=False)


def test_engine_state_round_trips_generator_and_combiner():
    model = TwoHeads()
    x, y = batch(9)
    first = CombinedBackward(model, build_combiner("gradvac", beta=0.5), generator=torch.Generator().manual_seed(1))
    first.backward(losses_of(model, x, y))
    first.finish()
    state = first.state_dict()
    second = CombinedBackward(model, build_combiner("gradvac", beta=0.5), generator=torch.Generator().manual_seed(99))
    second.load_state_dict(state)
    x2, y2 = batch(12)
    a = first.backward(losses_of(model, x2, y2)).weights
    b = second.backward(losses_of(model, x2, y2)).weights
    assert torch.equal(a, b)
