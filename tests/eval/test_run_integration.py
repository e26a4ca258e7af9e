"""`harness run` evaluates the trained student and records the flat summary in run.json."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.runner import run_recipe

RECIPE = """\
name: eval_integration
seed: 0
student: {family: internvl3, zoo: student}
data:
  train: {name: synthetic, seed: 0, train: 8, eval: 8}
  eval: {name: synthetic, seed: 0, train: 8, eval: 8}
objectives:
  ce: {weight: 1.0}
train: {lr: 1.0e-3, batch_size: 4, grad_accum: 1, max_steps: 1}
eval: {settings: [clean, text_only], batch_size: 4, max_new_tokens: 4}
"""


@pytest.mark.slow
def test_run_recipe_evaluates_the_student(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    run = run_recipe(path, results_root=tmp_path / "results", progress=False)
    info = run.info()
    assert info["status"] == "finished"
    flat = info["summary"]["eval"]
    assert flat["judge_id"] == "rubric-v1" and flat["n_items"] == 8 and "text_only_gap" in flat
    assert {"avg", "perception", "reasoning", "planning", "tokens_per_second", "peak_memory_mb",
            "first_token_latency_s"} <= set(flat)
    scores = pd.read_parquet(run.path / "eval" / "scores.parquet")
    assert len(scores) == 16 and set(scores.run) == {run.path.name}
    assert json.loads((run.path / "eval" / "summary.json").read_text())["settings"]["clean"]["n_items"] == 8
