import numpy as np
import pytest

from tests.report.fakes import base_scores, item_table, write_run

ABLATION = """name: table3_combiners
description: combiners on the tiny zoo
base: ../recipes/tiny/agp_internvl.yaml
variants:
  sum: {combiner: sum}
  pcgrad: {combiner: pcgrad}
  agp: {combiner: agp}
  worse: {combiner: sum}
objective: {metric: eval.avg, direction: maximize}
table:
  kind: table3
  rows: variant
  baseline: sum
  metrics: [perception, reasoning, planning, avg, mcq_acc_strict]
  caption: Combiners on the tiny zoo
"""


@pytest.fixture
def items():
    return item_table(50)


@pytest.fixture
def study(tmp_path, items):
    """A finished study: 'agp' is 10 points better than 'sum', 'worse' 10 points worse, 'pcgrad' the same."""
    base = base_scores(items)
    rng = np.random.default_rng(3)
    results = tmp_path / "results"
    for trial, (variant, shift) in enumerate([("sum", 0), ("pcgrad", 0), ("agp", 10), ("worse", -10)]):
        scores = np.clip(base + shift + rng.normal(0, 5, len(items)), 0, 100)
        write_run(results, f"tiny_{variant}", scores, items, study="table3_combiners", variant=variant, trial=trial,
                  summary={"eval": {"avg": float(scores.mean())}})
    ablation = tmp_path / "ablations" / "table3_combiners.yaml"
    ablation.parent.mkdir()
    ablation.write_text(ABLATION)
    return ablation, results
