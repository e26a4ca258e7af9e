"""Each objective's gradient norm on the single-backward (sum) path: exact, and the update untouched."""

import pytest
import torch

from harness.combine.gradients import blockwise_gramian, per_objective_gradients
from harness.train.telemetry import measures_norms, objective_gradient_norms


def _model_and_losses(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    x = torch.randn(4, 5)
    out = model(x)
    losses = {"ce": out.pow(2).mean(), "perception": 1000.0 * (out[:, 0] - 1).abs().mean(),
              "frozen": torch.tensor(0.5)}  # an objective without a graph (e.g. no teacher rows)
    return model, losses


def test_norms_equal_the_gramian_diagonal_and_leave_the_update_bit_for_bit():
    model, losses = _model_and_losses()
    params = list(model.parameters())
    norms = objective_gradient_norms(losses, params)
    assert all(p.grad is None for p in params)
    sum(losses.values()).backward()
    measured = [p.grad.clone() for p in params]

    model2, losses2 = _model_and_losses()
    sum(losses2.values()).backward()
    assert all(torch.equal(a, p.grad) for a, p in zip(measured, model2.parameters()))

    model3, losses3 = _model_and_losses()
    live = {k: v for k, v in losses3.items() if v.requires_grad}
    grads = per_objective_gradients(live, list(model3.parameters()))
    gram = blockwise_gramian(grads, list(model3.parameters()))
    for k, name in enumerate(live):
        assert norms[name] == pytest.approx(float(gram[k, k].sqrt()), rel=1e-6)
    assert norms["frozen"] == 0.0 and norms["perception"] > norms["ce"]


def test_norms_are_measured_at_the_log_steps_that_are_multiples():
    steps = [s for s in range(1, 21) if measures_norms(s, 5, 20, 2)]
    assert steps == [10, 20]
    assert [s for s in range(1, 8) if measures_norms(s, 3, 7, 1)] == [3, 6]
    assert not any(measures_norms(s, 0, 10, 1) for s in range(1, 11))


@pytest.mark.slow
def test_a_sum_run_logs_the_norms_and_trains_the_same_weights(tmp_path, monkeypatch):
    """grad_norms_every leaves the run's identity and weights as they were; its norms at step 1 equal
    the Gramian's (agp, same start and batch)."""
    from harness.recipe import load_recipe
    from harness.runner import run_recipe
    from tests.run.conftest import TINY
    from tests.run.test_run import weights

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY.format(name="norms", cache="disk", steps=2))
    runs = {}
    for key, overrides in {"plain": ["combiner.name=sum"], "measured": ["combiner.name=sum", "train.grad_norms_every=1"],
                           "agp": ["train.max_steps=1"]}.items():
        runs[key] = run_recipe(load_recipe(recipe, overrides), results_root=tmp_path / key, progress=False,
                               evaluate=False)
    plain, measured = runs["plain"], runs["measured"]
    assert plain.path.name == measured.path.name  # an operational field
    a, b = weights(plain.path / "student"), weights(measured.path / "student")
    assert all(torch.equal(a[k], b[k]) for k in a)
    logged = [r["combine"]["grad_norms"] for r in measured.metrics()]
    assert len(logged) == 2 and set(logged[0]) == {"ce", "perception", "reasoning", "planning"}
    assert all("grad_norms" not in r["combine"] for r in plain.metrics())
    gram = runs["agp"].metrics()[0]["combine"]["grad_norms"]
    for name, value in logged[0].items():
        assert value == pytest.approx(gram[name], rel=1e-4)
