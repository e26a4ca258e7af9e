"""The offline rubric judge: exact on synthetic items, correctness + overlap on real ones."""

from __future__ import annotations

from collections import defaultdict

import pytest

from harness.eval.judges.criteria import RUBRICS, rubric_for
from harness.eval.judges.exact import is_exact_item
from harness.eval.judges.rubric import RubricJudge
from harness.registry import JUDGES

judge = RubricJudge()


def test_rubric_is_registered_and_every_rubric_sums_to_100():
    assert JUDGES.get("rubric") is RubricJudge
    assert {r.name: r.total for r in RUBRICS.values()} == {name: 100 for name in RUBRICS}
    assert RUBRICS["perception_mcq"].points("correctness") == 50
    assert RUBRICS["planning_open"].points("action") == 40
    assert RUBRICS["prediction_open"].points("logic") == 20


def test_oracle_answers_score_100_on_every_synthetic_item(many_synthetic_items):
    assert len({it.raw["template"] for it in many_synthetic_items}) == 8
    for item in many_synthetic_items:
        assert is_exact_item(item)
        verdict = judge.score(item, item.answer)
        assert verdict.total == 100.0, (item.id, verdict.criteria)
        assert verdict.judge_id == "rubric-v1"


def test_oracle_answers_score_100_on_real_items(real_items):
    assert len(real_items) == 75
    for item in real_items:
        assert not is_exact_item(item)
        assert judge.score(item, item.answer).total == 100.0, item.id


def test_criteria_add_up_to_the_total(many_synthetic_items, real_items):
    for item in [*many_synthetic_items[:24], *real_items[:24]]:
        for prediction in (item.answer, "A", "", "The red car is in front, so brake gently to a stop."):
            verdict = judge.score(item, prediction)
            assert verdict.total == pytest.approx(sum(verdict.criteria.values()))
            assert 0.0 <= verdict.total <= 100.0
            assert set(verdict.criteria) == {c.key for c in rubric_for(item).criteria}


def test_an_empty_answer_scores_0(many_synthetic_items, real_items):
    for item in [*many_synthetic_items[:16], *real_items[:16]]:
        assert judge.score(item, "").total == 0.0


def test_another_scene_s_answer_scores_below_100_where_the_truth_differs(many_synthetic_items):
    """Swap references between scenes of the same template: wrong facts must cost points."""
    by_template = defaultdict(list)
    for item in many_synthetic_items:
        by_template[item.raw["template"]].append(item)
    for template, items in by_template.items():
        lower = []
        for item, other in zip(items, items[1:] + items[:1]):
            if other.answer == item.answer:
                continue
            lower.append(judge.score(item, other.answer).total < 100.0)
        assert lower and sum(lower) / len(lower) >= 0.6, template


def _item(items, template):
    return next(it for it in items if it.raw["template"] == template)


def test_bare_letters_and_contradicted_details_on_a_moving_status_question(many_synthetic_items):
    item = _item(many_synthetic_items, "moving_status")
    facts = item.raw["facts"]
    right, wrong = facts["answer_letter"], next(k for k in item.options if k != facts["answer_letter"])
    assert judge.score(item, right).total == 100.0
    assert judge.score(item, wrong).total == 10.0  # clarity only; details of a wrong answer earn nothing
    off = next(p for p in ("front left", "front right", "back") if p != facts["position"])
    verdict = judge.score(item, f"{right}. The {facts['description']} is to the {off} of the ego vehicle.")
    assert verdict.criteria["location"] == 0.0 and verdict.total == 85.0
    night = "day" if item.raw["scene"]["time"] != "day" else "night"
    assert judge.score(item, f"{right}. It is {night}.").criteria["environment"] == 0.0


def test_planning_action_is_judged_by_the_ego_action(many_synthetic_items):
    item = _item(many_synthetic_items, "plan_collision")
    truth = item.raw["facts"]["action"]
    assert judge.score(item, truth).total == 100.0
    other = "Back up." if truth != "Back up." else "Turn left."
    assert judge.score(item, other).criteria["action"] == 0.0


def test_notice_order_rewards_the_right_order(many_synthetic_items):
    items = [it for it in many_synthetic_items if it.raw["template"] == "notice_order"
             and len({o["description"] for o in it.raw["facts"]["order"]}) == len(it.raw["facts"]["order"]) >= 2]
    item = items[0]
    sentences = item.answer.split("Secondly")
    swapped = "Secondly".join(reversed(sentences)) if len(sentences) == 2 else item.answer
    right = judge.score(item, item.answer).criteria["identity_order"]
    assert right == 20.0
    if swapped != item.answer:
        assert judge.score(item, swapped).criteria["identity_order"] < 20.0


def test_real_mcq_is_correctness_plus_overlap(real_items):
    mcq = next(it for it in real_items if it.kind == "mcq" and "Explanation" in it.answer)
    letter = mcq.answer.strip()[0]
    assert judge.score(mcq, letter).criteria["correctness"] == 50.0
    assert judge.score(mcq, letter).total < 100.0  # the explanation's overlap is missing
    wrong = next(k for k in mcq.options if k != letter)
    assert judge.score(mcq, wrong).criteria["correctness"] == 0.0


def test_scores_are_deterministic(many_synthetic_items):
    item = many_synthetic_items[3]
    assert judge.score(item, "Yes. It is a sign.") == judge.score(item, "Yes. It is a sign.")


def test_drive_kd_rationale_answers_are_judged_on_their_final_part(many_synthetic_items):
    """Students trained on Drive-KD's format answer "Final: {…}" plus a rationale; the truth in that
    format must keep its core points (actions named in the evidence are not proposals)."""
    from harness.data.synthetic.questions import rationale_answer
    from harness.data.synthetic.writer import SynthConfig, build_scene

    config = SynthConfig(seed=11, train=8, eval=160, image_size=32, corruptions=())
    by_id = {it.id: it for it in many_synthetic_items}
    for index in range(20):
        scene, questions = build_scene(config, "eval", index)
        for q in questions:
            item = by_id[f"{scene.id}:{q.template}"]
            verdict = judge.score(item, rationale_answer(q))
            core = rubric_for(item).criteria[0]
            assert verdict.criteria[core.key] == core.points, (item.id, verdict.criteria)
            assert verdict.total >= 90.0, (item.id, verdict.criteria)  # only conciseness may cost points
