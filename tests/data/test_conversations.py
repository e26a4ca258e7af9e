"""The Drive-KD training format: loading, validation, and the DriveBench converter."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from harness.data import conversations, drivebench
from harness.data.errors import DataError

from .conftest import CLEAN


def _demo_like(tmp_path) -> list[dict]:
    """Items shaped like Drive-KD's released demo data (our own text and images)."""
    for name in ("front.png", "back.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    return [
        {"messages": [{"role": "user", "content": "<image>What is the moving status of object "
                       "<c1,CAM_FRONT,0.5,0.6>? Please select the correct answer from the following options: "
                       "A. Going ahead. B. Turn left. C. Turn right."},
                      {"role": "assistant", "content": "Final: {A. Going ahead.}\nObject: blue car"}],
         "images": ["front.png"], "question_type": "perception"},
        {"messages": [{"role": "user", "content": "<image><image>Predict the behavior of the ego vehicle."},
                      {"role": "assistant", "content": "Final: {B.}"}],
         "images": ["front.png", "back.png"], "question_type": "reasoning"},
        {"messages": [{"role": "user", "content": "In this scenario, what are safe actions to take?"},
                      {"role": "assistant", "content": "Brake gently to a stop."}],
         "images": ["back.png"], "question_type": "planning", "id": "mine-7"},
    ]


def _write(tmp_path, items, name="train.json"):
    path = tmp_path / name
    path.write_text(json.dumps(items))
    return path


def test_demo_format_loads_into_train_samples(tmp_path):
    samples = conversations.load(_write(tmp_path, _demo_like(tmp_path)))
    assert [s.capability for s in samples] == ["perception", "reasoning", "planning"]
    assert samples[0].question.startswith("What is the moving status") and "<image>" not in samples[0].question
    assert samples[0].answer.startswith("Final: {A. Going ahead.}")
    assert samples[1].images == (str(tmp_path / "front.png"), str(tmp_path / "back.png"))
    assert samples[0].id == "train:0" and samples[2].id == "mine-7"
    assert samples[0].meta["template"] == "moving_status"


@pytest.mark.parametrize("bad,mutate,field", [
    (1, lambda it: it.update(question_type="vision"), "question_type"),
    (1, lambda it: it.pop("messages"), "messages"),
    (1, lambda it: it["messages"].pop(), "messages"),
    (1, lambda it: it["messages"][0].update(role="system"), "messages[0].role"),
    (1, lambda it: it["messages"][1].update(content=""), "messages[1].content"),
    (0, lambda it: it.update(images="front.png"), "images"),
    (0, lambda it: it.update(images=["front.png", "back.png"]), "images"),  # 1 placeholder, 2 images
    (2, lambda it: it.update(images=[""]), "images[0]"),
    (2, lambda it: it.update(images=["nowhere.png"]), "images[0]"),
    (2, lambda it: it.update(meta=[1]), "meta"),
])
def test_malformed_training_items_name_index_and_field(tmp_path, bad, mutate, field):
    items = _demo_like(tmp_path)
    mutate(items[bad])
    with pytest.raises(DataError) as err:
        conversations.load(_write(tmp_path, items))
    assert str(err.value).startswith(f"train.json: item {bad}: field '{field}': ")
    assert len(conversations.load(_write(tmp_path, items), skip_invalid=True)) == 2


def test_prediction_and_behavior_task_names_map_to_reasoning(tmp_path):
    items = _demo_like(tmp_path)
    items[0]["question_type"] = "behavior"
    items[1]["question_type"] = "prediction"
    samples = conversations.load(_write(tmp_path, items))
    assert [s.capability for s in samples[:2]] == ["reasoning", "reasoning"]


def test_drivebench_items_convert_and_load_back(tmp_path):
    items = drivebench.load(CLEAN, setting="text_only")
    out = tmp_path / "converted" / "train.json"
    converted, without_answer = conversations.from_drivebench(items, out)
    assert without_answer == 0 and len(converted) == len(items)
    first = converted[1]
    assert first["messages"][0]["content"] == "<image>" + items[1].question  # one kept camera
    assert first["messages"][1]["content"] == items[1].answer
    assert first["question_type"] == items[1].capability
    samples = conversations.load(out)
    assert [s.capability for s in samples] == [i.capability for i in items]
    assert [s.answer for s in samples] == [i.answer for i in items]
    assert all(len(s.images) == len(i.cameras) for s, i in zip(samples, items))


def test_items_without_answer_are_left_out_of_the_conversion(tmp_path, clean_items):
    raws = [dict(r) for r in clean_items[:4]]
    raws[2]["answer"] = ""
    path = tmp_path / "db.json"
    path.write_text(json.dumps(raws))
    converted, without_answer = conversations.from_drivebench(drivebench.load(path, setting="text_only"))
    assert len(converted) == 3 and without_answer == 1
