"""Closed questions ranked by option likelihood: exact log-probs, batching, a model whose preference we set."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from harness.data.collate import IGNORE_INDEX
from harness.data.types import EvalItem
from harness.eval.likelihood import candidates, rank_closed, sequence_log_probs
from harness.models import load_model
from harness.registry import FAMILIES as REGISTERED

FAMILIES = REGISTERED.names()


def _items(tmp_path, n_mcq=3):
    image = tmp_path / "img.png"
    Image.new("RGB", (40, 40), (30, 120, 200)).save(image)
    cams = {"CAM_FRONT": str(image)}
    items = [EvalItem(id=f"m{i}", question=f"What colour is object {i}? Please select the correct answer from "
                      "the following options: A. Go. B. Go. C. Go. D. Go.", answer="B. Go.", question_type="perception",
                      tag=0, capability="perception", kind="mcq", cameras=cams,
                      options={"A": "Go.", "B": "Go.", "C": "Go.", "D": "Go."}) for i in range(n_mcq)]
    items.append(EvalItem(id="y", question="Is it a sign?", answer="No.", question_type="prediction", tag=0,
                          capability="reasoning", kind="yes_no", cameras=cams))
    items.append(EvalItem(id="o", question="What should the ego vehicle do?", answer="Stop.",
                          question_type="planning", tag=1, capability="planning", kind="open", cameras=cams))
    return items


def test_candidates_default_forms_and_the_datas_own():
    mcq = EvalItem(id="a", question="q", answer="B. Blue.", question_type="perception", tag=0,
                   capability="perception", kind="mcq", cameras={}, options={"A": "Red.", "B": "Blue."})
    assert candidates(mcq) == {"A": "A. Red.", "B": "B. Blue."}
    own = EvalItem(**{**mcq.__dict__, "raw": {"option_answers": {"A": "Red.", "B": "Blue."}}})
    assert candidates(own) == {"A": "Red.", "B": "Blue."}
    yes_no = EvalItem(**{**mcq.__dict__, "kind": "yes_no", "options": {}})
    assert candidates(yes_no) == {"yes": "Yes.", "no": "No."}
    assert candidates(EvalItem(**{**mcq.__dict__, "kind": "open"})) == {}


def test_sequence_log_probs_is_the_summed_token_log_likelihood():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, 11)
    labels = torch.full((3, 6), IGNORE_INDEX)
    labels[0, 3:5] = torch.tensor([4, 7])
    labels[1, 1:6] = torch.tensor([1, 2, 3, 4, 5])
    labels[2, 5] = 10
    expected = -F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), reduction="none",
                                ignore_index=IGNORE_INDEX).reshape(3, 5).sum(1)
    torch.testing.assert_close(sequence_log_probs(logits, labels), expected.double(), atol=1e-6, rtol=0)
    by_hand = torch.log_softmax(logits[0, 2], -1)[4] + torch.log_softmax(logits[0, 3], -1)[7]
    assert sequence_log_probs(logits, labels)[0].item() == pytest.approx(by_hand.item(), abs=1e-6)


def _prefer(loaded, text: str, bias: float = 40.0):
    """The model's lm_head gets a bias on the first token of ``text``: its likelihood is ours to set."""
    token = loaded.tokenizer(text, add_special_tokens=False)["input_ids"][0]
    head = loaded.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[token] = bias
    loaded.model.lm_head = biased
    return loaded


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_ranking_equals_one_candidate_at_a_time(family, tmp_path):
    """Padding, several prompts per pass and each family's positions (Qwen's 3D rotary) change nothing."""
    from harness.data.collate import collate_continuations

    loaded = load_model({"family": family, "zoo": "teacher_s"})
    items = _items(tmp_path, n_mcq=2)
    items[1] = EvalItem(**{**items[1].__dict__, "question": "A longer question about the colour of the car? "
                           "Please select: A. Go. B. Go. C. Go. D. Go.", "options": {"A": "Go.", "B": "Go. Now."}})
    batched = rank_closed(loaded, items, batch_size=5)
    assert batched[-1] is None  # the open item is not ranked
    for item, ranked in zip(items[:-1], batched[:-1]):
        for key, text in candidates(item).items():
            one = collate_continuations(loaded, [list(item.cameras.values())], [item.question], [[text]])
            with torch.no_grad():
                logits = loaded.model(**one.model_inputs()).logits
            alone = sequence_log_probs(logits, one.labels).item()
            assert ranked.log_probs[key] == pytest.approx(alone, abs=1e-4), (family, item.id, key)


def test_the_candidate_the_model_prefers_wins(tmp_path):
    loaded = _prefer(load_model({"family": "internvl3", "zoo": "teacher_s"}), "C")
    ranked = rank_closed(loaded, _items(tmp_path), batch_size=3)
    assert [r.choice for r in ranked[:3]] == ["C", "C", "C"]
    gap = ranked[0].log_probs["C"] - ranked[0].log_probs["A"]
    assert gap > 30  # the bias, less the logit it displaces
    assert ranked[3].choice in ("yes", "no") and ranked[4] is None
    no = rank_closed(_prefer(load_model({"family": "internvl3", "zoo": "teacher_s"}), "No"), _items(tmp_path))
    assert no[3].choice == "no"
    # equal candidates tie: the first in option order wins
    same = EvalItem(**{**_items(tmp_path)[0].__dict__, "raw": {"option_answers": {"C": "Go.", "A": "Go."}}})
    plain = rank_closed(load_model({"family": "internvl3", "zoo": "teacher_s"}), [same])[0]
    assert plain.log_probs["C"] == plain.log_probs["A"] and plain.choice == "C"


def test_evaluation_reports_parsed_and_ranked_accuracy(tmp_path):
    """Through run_evaluation: scores.parquet's ranked columns, predictions.jsonl's log-probs, and
    summary.json's closed_acc_parsed / closed_acc_ranked (here the model prefers B, the right letter of
    every MCQ, and No, the right yes/no answer, so ranked accuracy is exactly 1 while parsing reads little)."""
    from harness.eval.judges.rubric import RubricJudge
    from harness.eval.pipeline import run_evaluation
    from harness.rundir import RunDir

    loaded = _prefer(_prefer(load_model({"family": "qwen2_5_vl", "zoo": "teacher_s"}), "B"), "No", 20.0)
    items = _items(tmp_path)
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    summary = run_evaluation(loaded, {"clean": items}, RubricJudge(), run=run, batch_size=4, max_new_tokens=4,
                             progress=False)
    frame = pd.read_parquet(run.scores_file)
    closed = frame[frame["kind"].isin(["mcq", "yes_no"])]
    assert closed["pred_ranked"].tolist() == ["B", "B", "B", "no"]
    assert closed["correct_ranked"].tolist() == [True] * 4
    assert frame.loc[frame["kind"] == "open", "pred_ranked"].isna().all()
    clean = summary["settings"]["clean"]
    assert clean["closed_acc_ranked"] == 1.0
    parsed = closed["correct_strict"].fillna(False).astype(bool).mean()
    assert clean["closed_acc_parsed"] == pytest.approx(parsed)
    lines = [json.loads(x) for x in run.predictions_file("clean").read_text().splitlines()]
    assert lines[0]["ranked"] == "B" and set(lines[0]["option_log_probs"]) == {"A", "B", "C", "D"}
    assert "ranked" not in lines[-1]
    assert all(math.isfinite(v) for v in lines[3]["option_log_probs"].values())
