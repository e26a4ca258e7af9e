"""The real DriveBench items load, and map to capabilities, kinds and cameras as documented."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from harness.data import drivebench
from harness.data.errors import DataError
from harness.data.mapping import template_of
from harness.data.types import CAMERAS, EvalItem

from .conftest import BITERROR, CLEAN

# docs/data.md, "Capability mapping"
DOCUMENTED_CAPABILITY = {"perception": "perception", "prediction": "reasoning", "behavior": "reasoning",
                         "planning": "planning"}


def _stand_in_images(items: list[dict], root: Path) -> None:
    for raw in items:
        for rel in raw["image_path"].values():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                Image.new("RGB", (8, 8), (90, 90, 90)).save(path)


def test_clean_fixture_maps_to_the_documented_capabilities_and_kinds(clean_items):
    items = drivebench.load(CLEAN, setting="text_only")
    assert len(items) == len(clean_items) == 50
    for raw, item in zip(clean_items, items):
        assert isinstance(item, EvalItem)
        assert item.question_type == raw["question_type"]
        assert item.capability == DOCUMENTED_CAPABILITY[raw["question_type"]]
        assert item.tag == raw["tag"][0]
        expected_kind = "open" if item.tag else ("yes_no" if raw["question_type"] == "prediction" else "mcq")
        assert item.kind == expected_kind
    assert Counter(i.capability for i in items) == {"perception": 15, "reasoning": 16, "planning": 19}
    assert Counter(i.kind for i in items) == {"open": 28, "mcq": 14, "yes_no": 8}


def test_ids_are_stable_and_unique(clean_items):
    first = drivebench.load(CLEAN, setting="text_only")
    second = drivebench.load(CLEAN, setting="text_only")
    assert [i.id for i in first] == [i.id for i in second]
    assert len({i.id for i in first}) == len(first)
    assert first[3].id == f"{clean_items[3]['frame_token']}:3"


def test_mcq_options_and_object_refs_are_parsed():
    items = drivebench.load(CLEAN, setting="text_only")
    moving = items[1]
    assert moving.options == {"A": "Going ahead.", "B": "Turn left.", "C": "Turn right."}
    assert [(o.id, o.camera, o.x, o.y) for o in moving.objects] == [("c1", "CAM_BACK", 0.5073, 0.5778)]
    behavior = items[7]
    assert set(behavior.options) == {"A", "B", "C", "D"}
    assert behavior.options["C"] == "The ego vehicle is slightly steering to the left. The ego vehicle is driving fast."


def test_only_the_cameras_a_question_refers_to_are_kept(tmp_path, clean_items):
    _stand_in_images(clean_items, tmp_path)
    items = drivebench.load(CLEAN, tmp_path)
    assert list(items[1].cameras) == ["CAM_BACK"]  # refers to <c1,CAM_BACK,…>
    assert list(items[0].cameras) == list(CAMERAS)  # no reference: every camera
    assert items[1].cameras["CAM_BACK"] == str(tmp_path / clean_items[1]["image_path"]["CAM_BACK"])
    everything = drivebench.load(CLEAN, tmp_path, keep_all_cameras=True)
    assert all(list(i.cameras) == list(CAMERAS) for i in everything)


def test_missing_images_are_named(tmp_path, clean_items):
    _stand_in_images(clean_items, tmp_path)
    victim = tmp_path / clean_items[0]["image_path"]["CAM_BACK"]  # the first frame's back camera
    victim.unlink()
    with pytest.raises(DataError) as err:
        drivebench.load(CLEAN, tmp_path)
    message = str(err.value)
    assert message.startswith("drivebench-clean-sample.json: item 0: field 'image_path.CAM_BACK': image not found: ")
    assert str(victim) in message
    # the frame's 8 questions all show CAM_BACK (4 refer to c1 there, 4 show every camera)
    assert "8 missing images in 8 items" in message
    kept = drivebench.load(CLEAN, tmp_path, skip_invalid=True)
    assert len(kept.skipped) == 8 and len(kept) == 42


def test_text_only_uses_black_images_and_needs_no_files():
    items = drivebench.load(CLEAN, setting="text_only")
    paths = {p for i in items for p in i.cameras.values()}
    assert len(paths) == 1
    with Image.open(paths.pop()) as img:
        assert img.getextrema() == ((0, 0), (0, 0), (0, 0))
    assert {i.setting for i in items} == {"text_only"}


def test_corruption_file_resolves_robust_qas_and_names_its_setting(tmp_path):
    raws = json.loads(BITERROR.read_text())
    _stand_in_images(raws, tmp_path)
    items = drivebench.load(BITERROR, tmp_path)
    assert {i.setting for i in items} == {"BitError"}
    by_template = {}
    for i in items:
        by_template.setdefault(template_of(i.question), i)
    assert by_template["moving_status"].question_type == "perception" and by_template["moving_status"].kind == "mcq"
    assert by_template["sign_or_barrier"].capability == "reasoning"
    assert by_template["sign_or_barrier"].kind == "yes_no"
    assert by_template["corruption_type"].options["B"] == "Bit error."
    assert by_template["plan_safe"].capability == "planning"
    assert by_template["notice_order"].question_type == "prediction"
    assert {i.tag for i in items} == {0, 1, 2, 3, 4, 5}
    assert all(i.capability == "perception" for i in items if i.tag in (2, 4, 5))


def test_json_lines_files_load_too(tmp_path, clean_items):
    path = tmp_path / "lines.json"
    path.write_text("\n".join(json.dumps(r) for r in clean_items[:5]) + "\n")
    assert len(drivebench.load(path, setting="text_only")) == 5
