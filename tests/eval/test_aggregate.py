"""scores.parquet rows and the summary: capability means, Avg, gaps, missing verdicts."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from harness.data.types import EvalItem
from harness.eval.aggregate import COLUMNS, flat_summary, json_safe, score_rows, scores_frame, summarize
from harness.eval.judges.base import JudgeScore
from harness.eval.judges.rubric import RubricJudge

OPTIONS = {"A": "Going ahead.", "B": "Turn left."}


def _item(i, capability, kind="open", setting="clean", answer="Keep going.", task=None):
    task = task or {"perception": "perception", "reasoning": "behavior", "planning": "planning"}[capability]
    return EvalItem(id=f"i{i}", question="q", answer=answer, question_type=task, tag=0 if kind != "open" else 1,
                    capability=capability, kind=kind, cameras={}, setting=setting,
                    options=OPTIONS if kind == "mcq" else {})


def _frame(specs):
    """specs: (capability, setting, total) → a scores frame with the rubric judge's id."""
    items = [_item(i, cap, setting=setting) for i, (cap, setting, _) in enumerate(specs)]
    verdicts = [JudgeScore(total, {"x": total or 0}, "rubric-v1") for _, _, total in specs]
    return scores_frame(score_rows("run1", "m", items, ["p"] * len(items), verdicts))


def test_rows_have_the_contract_columns_and_types():
    items = [_item(0, "perception", "mcq", answer="B"), _item(1, "reasoning", "yes_no", answer="No.", task="prediction"),
             _item(2, "planning")]
    preds = ["A car is turning, so the answer is B.", "No, it is a car.", "Keep going."]
    verdicts = [JudgeScore(60.0, {"correctness": 50}, "j"), JudgeScore(None, {}, "j", error="HTTP 500"),
                JudgeScore(80.0, {}, "j")]
    frame = scores_frame(score_rows("run1", "model-x", items, preds, verdicts))
    assert tuple(frame.columns) == COLUMNS
    first = frame.iloc[0]
    assert (first.pred_official, first.pred_strict) == ("A", "B")
    assert (bool(first.correct_official), bool(first.correct_strict)) == (False, True)
    assert frame.iloc[1].pred_strict == "no" and bool(frame.iloc[1].correct_strict)
    assert frame.iloc[2].pred_strict is None and pd.isna(frame.iloc[2].correct_strict)
    assert math.isnan(frame.iloc[1].judge_total)  # missing, not 0
    assert json.loads(frame.iloc[0].judge_criteria) == {"correctness": 50}
    assert set(frame.judge_id) == {"j"} and frame.tag.dtype == "int64"


def test_capability_scores_avg_and_missing():
    frame = _frame([("perception", "clean", 40.0), ("perception", "clean", None), ("perception", "clean", 60.0),
                    ("reasoning", "clean", 20.0), ("planning", "clean", 90.0), ("planning", "clean", 70.0)])
    s = summarize(frame, "rubric-v1", {})["settings"]["clean"]
    assert s["perception"] == 50.0  # the missing verdict is left out, not counted as 0
    assert s["reasoning"] == 20.0 and s["planning"] == 80.0
    assert s["avg"] == pytest.approx((50 + 20 + 80) / 3)
    assert s["n_items"] == 6 and s["n_missing"] == 1


def test_text_only_gap_and_corruption_mean():
    specs = []
    for setting, value in (("clean", 60.0), ("text_only", 35.0), ("fog", 50.0), ("low_light", 40.0)):
        specs += [(cap, setting, value) for cap in ("perception", "reasoning", "planning")]
    summary = summarize(_frame(specs), "rubric-v1", {"device": "cpu"})
    assert summary["text_only_gap"] == pytest.approx(25.0)
    assert summary["corruption_mean"] == pytest.approx(45.0)
    flat = flat_summary(json_safe(summary))
    assert flat["avg"] == 60.0 and flat["judge_id"] == "rubric-v1" and flat["text_only_gap"] == pytest.approx(25.0)


def test_no_gap_without_both_settings_and_nan_becomes_null():
    summary = json_safe(summarize(_frame([("perception", "clean", None)]), "j", {}))
    assert "text_only_gap" not in summary and "corruption_mean" not in summary
    assert summary["settings"]["clean"]["perception"] is None
    json.dumps(summary, allow_nan=False)


def test_oracle_predictions_give_100_everywhere(many_synthetic_items):
    judge = RubricJudge()
    preds = [it.answer for it in many_synthetic_items]
    frame = scores_frame(score_rows("r", "oracle", many_synthetic_items, preds,
                                    judge.score_many(many_synthetic_items, preds)))
    s = summarize(frame, judge.judge_id, {})["settings"]["clean"]
    assert (s["perception"], s["reasoning"], s["planning"], s["avg"]) == (100.0, 100.0, 100.0, 100.0)
    assert s["mcq_acc_strict"] == 1.0 and s["yes_no_acc"] == 1.0
