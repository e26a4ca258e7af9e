"""Malformed DriveBench items are rejected with one line naming the file, the item and the field."""

from __future__ import annotations

import copy
import json

import pytest

from harness.data import drivebench
from harness.data.errors import DataError

BAD_INDEX = 3  # the broken item sits among good ones, so the index in the message matters


def _moving_status(items):
    return next(i for i, it in enumerate(items) if "moving status" in it["question"])


def _set(key, value):
    def mutate(item):
        item[key] = value
    return mutate


def _delete(key):
    def mutate(item):
        del item[key]
    return mutate


def _question(old, new):
    def mutate(item):
        item["question"] = item["question"].replace(old, new)
    return mutate


# (name, mutation, field named in the message, a phrase of the message)
CASES = [
    ("not an object", None, "(item)", "expected an object"),
    ("missing question", _delete("question"), "question", "missing"),
    ("empty question", _set("question", "  "), "question", "is empty"),
    ("question not text", _set("question", 42), "question", "expected a string"),
    ("missing answer", _delete("answer"), "answer", "missing"),
    ("scene token not text", _set("scene_token", None), "scene_token", "expected a string"),
    ("missing frame token", _delete("frame_token"), "frame_token", "missing"),
    ("unknown question type", _set("question_type", "percepton"), "question_type", "did you mean 'perception'"),
    ("tag not a list", _set("tag", 0), "tag", "one-element list of int"),
    ("tag with two entries", _set("tag", [0, 1]), "tag", "one-element list of int"),
    ("tag a string", _set("tag", ["x"]), "tag", "one-element list of int"),
    ("tag out of range", _set("tag", [7]), "tag", "tags 0-3"),
    ("tag wrong for task", _set("tag", [1]), "tag", "takes tag 0, 2"),
    ("image_path not a mapping", _set("image_path", ["a.jpg"]), "image_path", "mapping camera"),
    ("image_path empty", _set("image_path", {}), "image_path", "non-empty mapping"),
    ("unknown camera", _set("image_path", {"CAM_TOP": "a.jpg"}), "image_path.CAM_TOP", "unknown camera"),
    ("empty image path", _set("image_path", {"CAM_BACK": ""}), "image_path.CAM_BACK", "non-empty path"),
    ("bad camera in reference", _question("CAM_BACK,", "CAM_BAK,"), "question", "unknown camera 'CAM_BAK'"),
    ("coordinates out of range", _question("0.5073,", "5.073,"), "question", "normalised to [0, 1]"),
    ("coordinates not numbers", _question("0.5073,", "abc,"), "question", "must be numbers"),
    ("reference to a camera the item lacks", _set("image_path", {"CAM_FRONT": "f.jpg"}), "question",
     "image_path lacks"),
    ("MCQ answer letter not an option", _set("answer", "D"), "answer", "option letters A, B, C"),
    ("MCQ without options", _question("Please select the correct answer from the following options: "
                                      "A. Going ahead. B. Turn left. C. Turn right.", ""), "question", "lists no options"),
    ("id not text", _set("id", 5), "id", "expected a string"),
]


@pytest.mark.parametrize("name,mutate,field,phrase", CASES, ids=[c[0] for c in CASES])
def test_malformed_item_is_rejected_naming_index_and_field(tmp_path, clean_items, name, mutate, field, phrase):
    items = copy.deepcopy(clean_items[:8])
    source = _moving_status(items)
    bad = copy.deepcopy(items[source])
    if mutate is None:
        bad = ["not", "an", "object"]
    else:
        mutate(bad)
    items[BAD_INDEX] = bad
    path = tmp_path / "drivebench-clean.json"
    path.write_text(json.dumps(items))
    with pytest.raises(DataError) as err:
        drivebench.load(path, setting="text_only")
    message = str(err.value)
    assert message.startswith(f"drivebench-clean.json: item {BAD_INDEX}: field '{field}': "), message
    assert phrase in message
    assert "\n" not in message

    kept = drivebench.load(path, setting="text_only", skip_invalid=True)
    assert len(kept) == 7 and len(kept.skipped) == 1
    assert kept.skipped[0] == message


def test_yes_no_answer_must_say_yes_or_no(tmp_path, clean_items):
    items = copy.deepcopy(clean_items[:8])
    assert "traffic sign or a road barrier" in items[3]["question"]
    items[3]["answer"] = "Maybe."
    path = tmp_path / "x.json"
    path.write_text(json.dumps(items))
    with pytest.raises(DataError, match=r"^x.json: item 3: field 'answer': a yes/no question"):
        drivebench.load(path, setting="text_only")


def test_robust_tag0_question_of_unknown_task_is_rejected(tmp_path):
    item = {"scene_token": "s", "frame_token": "f", "question_type": "robust_qas", "tag": [0],
            "question": "How is the weather? A. Sunny. B. Rainy.", "answer": "A",
            "image_path": {"CAM_FRONT": "a.jpg"}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps([item]))
    with pytest.raises(DataError, match=r"^r.json: item 0: field 'question': cannot tell which task"):
        drivebench.load(path, setting="text_only")


@pytest.mark.parametrize("content,phrase", [
    ("", "the file is empty"),
    ("[{]", "not valid JSON (line 1"),
    ('{"a": 1}\n{oops\n', "line 2 is not valid JSON"),
    ('"just a string"', "expected a JSON array"),
])
def test_unreadable_files_are_rejected_naming_the_file(tmp_path, content, phrase):
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        drivebench.load(path, setting="text_only")
    assert str(err.value).startswith("broken.json: ") and phrase in str(err.value)


def test_a_file_with_no_valid_item_is_rejected_even_when_skipping(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"question": "?"}]))
    with pytest.raises(DataError, match="no valid item among 1"):
        drivebench.load(path, setting="text_only", skip_invalid=True)
