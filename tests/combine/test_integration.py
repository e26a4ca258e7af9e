"""How the combiners meet the rest of the harness: recipes, errors, metrics.jsonl."""

from __future__ import annotations

import pytest
import torch

from harness.combine import CombinerError, aggregate, build_combiner
from harness.combine.gradients import CombinedBackward
from harness.errors import HarnessError, RecipeError, UnknownComponentError
from harness.options import check_options
from harness.registry import COMBINERS
from tests.combine import ddp_worker as worker

RECIPE_OPTIONS = {
    "sum": {"weights": {"ce": 1.0, "perception": 0.5}},
    "pcgrad": {"reduction": "mean"},
    "agp": {"anchor": "ce", "stage1": True, "stage2": False, "anchor_once": True},
    "mgda": {"scale": 3},
    "gradvac": {"beta": 0.1},
}


@pytest.mark.parametrize("name", sorted(RECIPE_OPTIONS))
def test_recipe_options_validate_against_the_constructor(name):
    options = check_options(COMBINERS.get(name), RECIPE_OPTIONS[name], kind="combiner", name=name, field="combiner", file="r.yaml")
    combiner = build_combiner(name, **options)
    g = torch.randn(3, 4, dtype=torch.float64)
    assert torch.isfinite(aggregate(g, ["ce", "perception", "planning"], combiner)).all()


def test_recipe_typos_are_caught_with_a_suggestion():
    with pytest.raises(RecipeError, match=r"combiner\.anchr.*did you mean 'anchor'"):
        check_options(COMBINERS.get("agp"), {"anchr": "ce"}, kind="combiner", name="agp", field="combiner", file="r.yaml")
    with pytest.raises(RecipeError, match="reduction"):
        check_options(COMBINERS.get("pcgrad"), {"reduction": "median"}, kind="combiner", name="pcgrad", field="combiner", file="r.yaml")


def test_user_mistakes_are_one_line_harness_errors():
    g = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(CombinerError, match="anchor 'cee' is not an objective; did you mean 'ce'") as exc:
        aggregate(g, ["ce", "planning"], "agp", anchor="cee")
    assert isinstance(exc.value, HarnessError) and "\n" not in str(exc.value)
    with pytest.raises(CombinerError, match="weights name 'plan'"):
        aggregate(g, ["ce", "planning"], "sum", weights={"plan": 2.0})
    with pytest.raises(RecipeError, match="combiner.anchr: unknown option 'anchr' of combiner 'agp'; did you mean 'anchor'"):
        build_combiner("agp", anchr="ce")
    with pytest.raises(RecipeError, match="did you mean 'pcgrad'"):
        build_combiner("pcgard")


def test_each_step_logs_cosines_conflicts_and_weights_to_metrics_jsonl(tmp_path):
    from harness.files import append_jsonl, read_jsonl

    model = worker.make_model()
    engine = CombinedBackward(model, build_combiner("agp"), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    metrics = tmp_path / "metrics.jsonl"
    for step, micro_batches in enumerate(worker.data()):
        for x, y in micro_batches:
            engine.backward(worker.losses_of(model, x, y))
        for record in engine.finish():
            append_jsonl(metrics, {"step": step, "combiner": record.diagnostics()})
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    lines = read_jsonl(metrics)
    assert len(lines) == worker.STEPS * worker.MICRO_BATCHES
    for line in lines:
        diag = line["combiner"]
        assert set(diag["cosine"]) == set(worker.NAMES) and set(diag["weights"]) == set(worker.NAMES)
        assert diag["conflicts"] == len(diag["conflicting_pairs"])
    assert any(line["combiner"]["conflicts"] > 0 for line in lines)
