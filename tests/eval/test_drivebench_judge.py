"""DriveBench judge parity: the official per-task rubrics, the object description, the verdict reading."""

from __future__ import annotations

import json

import pytest

from harness.eval.judges.base import JudgeError
from harness.eval.judges.criteria import DRIVEBENCH_RUBRICS, drivebench_rubric_for
from harness.eval.judges.descriptions import NO_OBJECT_TEXT, VisualDescriptions
from harness.eval.judges.http import HttpJudge
from harness.eval.judges.prompts import drivebench_prompt, parse_verdict
from tests.eval.loopback import Loopback, completion

# Points per criterion of DriveBench's released prompts (evaluate/prompts.py), in their order.
OFFICIAL_POINTS = {
    "perception_mcq": [50, 10, 15, 15, 10],
    "perception_open_drivebench": [20, 20, 15, 15, 20, 10],
    "prediction_yes_no": [40, 15, 15, 15, 15],
    "prediction_open": [20, 20, 15, 15, 20, 10],
    "planning_open": [40, 20, 15, 15, 10],
    "behavior_mcq": [50, 15, 15, 10, 10],
}


def test_the_drivebench_rubrics_carry_the_official_points():
    assert {name: [c.points for c in r.criteria] for name, r in DRIVEBENCH_RUBRICS.items()} == OFFICIAL_POINTS


def test_each_item_gets_the_rubric_the_official_evaluator_routes_it_to(real_items):
    expected = {("perception", 0): "perception_mcq", ("perception", 2): "perception_open_drivebench",
                ("prediction", 0): "prediction_yes_no", ("prediction", 3): "prediction_open",
                ("planning", 1): "planning_open", ("behavior", 0): "behavior_mcq"}
    seen = set()
    for item in real_items:  # corruption files' tags 4 and 5 have no official rubric: ours
        assert drivebench_rubric_for(item).name == expected.get((item.question_type, item.tag), "general_open")
        seen.add((item.question_type, item.tag))
    assert set(expected) <= seen


@pytest.fixture
def descriptions(tmp_path, real_items):
    """A visual_description.json in DriveBench's layout for the fixture's first frame (pixel coordinates)."""
    first = real_items[0]
    data = {first.scene_token: {"scene_description": "…", "key_frames": {first.frame_token: {"key_object_infos": {
        "<c1,CAM_BACK,767.5,513.3>": {"Category": "Vehicle", "Visual_description": "White Sedan car."},
        "<c1,CAM_BACK_LEFT,10.0,20.0>": {"Visual_description": "Other camera."},
        "<c2,CAM_FRONT,5.0,5.0>": {"Visual_description": "Red truck."},
    }}}}}
    path = tmp_path / "visual_description.json"
    path.write_text(json.dumps(data))
    return path


def _frame_items(real_items):
    first = real_items[0]
    return [it for it in real_items if it.frame_token == first.frame_token]


def test_descriptions_follow_the_official_lookup(descriptions, real_items):
    lookup = VisualDescriptions(descriptions)
    items = _frame_items(real_items)
    mcq = next(it for it in items if it.kind == "mcq" and it.question_type == "perception")
    assert "<c1,CAM_BACK," in mcq.question
    assert lookup.for_item(mcq) == "white sedan car."  # id + camera matched, lower-cased
    safe = next(it for it in items if it.question.startswith("In this scenario, what are safe actions"))
    assert lookup.for_item(safe) == NO_OBJECT_TEXT
    other_frame = next(it for it in real_items if it.frame_token != real_items[0].frame_token and "<c1" in it.question)
    assert lookup.for_item(other_frame) is None  # the official code would crash here
    # the official prefix match has no delimiter after the camera: a CAM_BACK_LEFT key listed first wins
    objects = lookup.scenes[mcq.scene_token]["key_frames"][mcq.frame_token]["key_object_infos"]
    lookup.scenes[mcq.scene_token]["key_frames"][mcq.frame_token]["key_object_infos"] = dict(reversed(objects.items()))
    assert lookup.for_item(mcq) == "other camera."


def test_a_bad_descriptions_file_is_one_line(tmp_path):
    (tmp_path / "d.json").write_text("[1, 2]")
    with pytest.raises(JudgeError, match="visual_description.json"):
        VisualDescriptions(tmp_path / "d.json")
    with pytest.raises(JudgeError, match="cannot read"):
        VisualDescriptions(tmp_path / "missing.json")


def test_drivebench_prompts_carry_desc_where_the_official_ones_do(real_items):
    for item in real_items[:8]:
        prompt = drivebench_prompt(item, "B. It is moving.", desc="white sedan car.")
        rubric = drivebench_rubric_for(item)
        assert item.question in prompt and "B. It is moving." in prompt and prompt.rstrip().endswith("Summary:")
        assert ("white sedan car." in prompt) == (rubric.name in ("perception_mcq", "planning_open"))
        for n, c in enumerate(rubric.criteria, 1):
            assert f"{n}. {c.key.replace('_', ' ').title()} ({c.points} points):" in prompt


def test_the_first_total_score_counts_as_in_the_official_evaluator():
    rubric = DRIVEBENCH_RUBRICS["behavior_mcq"]
    reply = "1. Correctness (50 points): 50\n2. Behavior Detail (15 points): 10\nTotal Score: 60\n...\nTotal Score: 95"
    assert parse_verdict(reply, rubric, pick="first") == (60.0, {"correctness": 50.0, "behavior_detail": 10.0})
    assert parse_verdict(reply, rubric)[0] == 95.0


def test_http_judge_with_the_drivebench_set_sends_one_user_message(tmp_path, real_items, descriptions):
    items = _frame_items(real_items)[:4]
    with Loopback(lambda n, body: (200, completion("Total Score: 70\nTotal Score: 10"))) as server:
        judge = HttpJudge(base_url=server.base_url, model="m", cache=str(tmp_path / "v.sqlite"), backoff=0.01,
                          prompts="drivebench", descriptions=str(descriptions))
        verdicts = judge.score_many(items, [it.answer for it in items])
    assert [v.total for v in verdicts] == [70.0] * len(items)
    assert all(v.judge_id.endswith("+drivebench") for v in verdicts)
    assert all([m["role"] for m in r["messages"]] == ["user"] for r in server.requests)
    sent = [r["messages"][0]["content"] for r in server.requests]
    assert any("white sedan car." in p for p in sent)


def test_http_judge_refuses_an_unknown_prompt_set(tmp_path):
    with pytest.raises(JudgeError, match="prompt set"):
        HttpJudge(base_url="http://127.0.0.1:9/v1", model="m", prompts="official", use_cache=False)
