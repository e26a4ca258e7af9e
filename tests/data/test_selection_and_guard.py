"""data.train.capabilities and the contamination guard (frames shared with the evaluation data)."""

from __future__ import annotations

import pytest

from harness.data.contamination import guard, overlapping
from harness.data.conversations import to_train_sample
from harness.data.drivebench import load
from harness.data.errors import DataError
from harness.data.selection import by_capability
from harness.data.types import TrainSample
from tests.eval.conftest import CLEAN


def _sample(i, capability, images=("a/CAM_FRONT/x.jpg",), frame=None):
    meta = {"frame_token": frame} if frame else {}
    return TrainSample(f"s{i}", tuple(images), "q", "a", capability, meta)


def test_capabilities_keep_only_those_samples_in_order():
    samples = [_sample(i, c) for i, c in enumerate(["perception", "planning", "perception", "reasoning"])]
    assert [s.id for s in by_capability(samples, ["perception"])] == ["s0", "s2"]
    assert [s.id for s in by_capability(samples, ["planning", "reasoning"])] == ["s1", "s3"]
    assert by_capability(samples, None) == samples
    with pytest.raises(DataError, match="no training sample has capability planning"):
        by_capability(samples[:1], ["planning"])


def test_training_on_evaluation_frames_is_refused_naming_count_and_file():
    items = load(CLEAN, setting="text_only")
    train = [to_train_sample(it) for it in items[:3]]  # DriveBench-derived training samples carry the frame token
    train.append(_sample(9, "perception", images=("elsewhere/CAM_FRONT/unrelated.jpg",)))
    with pytest.raises(DataError, match=r"3 of 4 training samples share frames with the evaluation data test.json"):
        guard(train, items, eval_file="test.json", allow=False)
    report = guard(train, items, eval_file="test.json", allow=True)
    assert report["overlapping_train_samples"] == 3 and report["allowed"] is True


def test_frames_also_match_by_image_file_whatever_the_folder():
    items = load(CLEAN, check_images=False)  # image paths resolve under the fixture folder
    image = next(iter(items[0].cameras.values()))
    camera_file = "/".join(image.split("/")[-2:])
    same = _sample(0, "perception", images=(f"/other/root/nuscenes/samples/{camera_file}",))
    other = _sample(1, "perception", images=(f"/other/root/nuscenes/samples/{camera_file}.not",))
    assert overlapping([same, other], items) == [same]
