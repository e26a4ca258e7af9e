"""The synthetic benchmark: deterministic, loadable, grounded in its scene graph, and needing the image."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import conversations, drivebench
from harness.data.errors import DataError
from harness.data.objects import parse_object_refs
from harness.data.options import answer_letter, parse_options, yes_no
from harness.data.synthetic.baselines import (CLOSED, TextPrior, accuracy_by_template, answer_key,
                                              closed_accuracy, oracle_key)
from harness.data.synthetic.geometry import layout
from harness.data.synthetic.questions import DRIVEBENCH_TEMPLATES, SPEED_TEXT, STATUS_OPTION, STEER_TEXT
from harness.data.synthetic.render import render
from harness.data.synthetic.sampler import sample_scene
from harness.data.synthetic.scene import SIX_CAMERAS, Scene
from harness.data.synthetic.writer import SynthConfig, generate


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _eval(root: Path, setting: str = "clean") -> list[dict]:
    return json.loads((root / f"drivebench-{setting}.json").read_text())


def test_generation_is_deterministic_per_seed(tmp_path):
    config = SynthConfig(seed=3, train=24, eval=24, image_size=48, corruptions=("fog", "bit_error"))
    generate(tmp_path / "a", config)
    generate(tmp_path / "b", config)
    generate(tmp_path / "c", dataclasses.replace(config, seed=4))
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a.keys() != c.keys() or a != c
    assert _eval(tmp_path / "a")[0]["question"] != _eval(tmp_path / "c")[0]["question"] or \
        _eval(tmp_path / "a")[0]["scene"] != _eval(tmp_path / "c")[0]["scene"]


def test_counts_files_and_image_size(synth_root):
    manifest = json.loads((synth_root / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 80, "eval": 160, "eval_frames": 20, "eval_scenes": 5}
    assert set(manifest["files"]["settings"]) == {"clean", "text_only", "fog", "low_light", "motion_blur",
                                                  "bit_error", "frame_lost", "zoom_blur"}
    first = _eval(synth_root)[0]
    with Image.open(synth_root / first["image_path"]["CAM_FRONT"]) as img:
        assert img.size == (64, 64) and img.mode == "RGB"
    assert SynthConfig().image_size == 96  # the default suits the tiny zoo


def test_every_setting_loads_through_the_official_loader(synth_root):
    clean = drivebench.load(synth_root / "drivebench-clean.json")
    assert len(clean) == 160 and {i.setting for i in clean} == {"clean"}
    assert {(i.question_type, i.tag) for i in clean} == {
        ("perception", 2), ("perception", 0), ("prediction", 0), ("prediction", 3), ("planning", 1), ("behavior", 0)}
    for setting in ("text_only", "fog", "bit_error", "frame_lost"):
        items = drivebench.load(synth_root / f"drivebench-{setting}.json")
        assert [i.id for i in items] == [i.id for i in clean]
        assert [i.answer for i in items] == [i.answer for i in clean]
        assert {i.setting for i in items} == {setting}
    fog = drivebench.load(synth_root / "drivebench-fog.json")
    clean_px = np.asarray(Image.open(clean[0].cameras["CAM_FRONT"]), dtype=float)
    fog_px = np.asarray(Image.open(fog[0].cameras["CAM_FRONT"]), dtype=float)
    assert np.abs(clean_px - fog_px).mean() > 5
    text_only = drivebench.load(synth_root / "drivebench-text_only.json")
    assert Image.open(text_only[0].cameras["CAM_FRONT"]).getextrema() == ((0, 0), (0, 0), (0, 0))


def test_training_split_has_structured_rationales(synth_root):
    samples = conversations.load(synth_root / "train.json")
    assert len(samples) == 80
    assert {s.capability for s in samples} == {"perception", "reasoning", "planning"}
    for s in samples:
        lines = s.answer.splitlines()
        assert [ln.split(":")[0] for ln in lines] == ["Final", "Object", "Position & orientation", "Environment",
                                                       "Contextual evidence"]
        assert all(ln.split(":", 1)[1].strip() for ln in lines)
        assert Path(s.images[0]).is_file()
    mcq = next(s for s in samples if s.meta["template"] == "moving_status")
    assert answer_letter(mcq.answer.split("{", 1)[1]) in parse_options(mcq.question)


def test_answers_agree_with_the_scene_graph(synth_root):
    items = _eval(synth_root)
    assert {it["template"] for it in items} == set(DRIVEBENCH_TEMPLATES)
    for it in items:
        scene = Scene.from_json(it["scene"])
        refs = parse_object_refs(it["question"])
        obj = scene.object(refs[0].id) if refs else None
        if obj is not None:  # the reference points at the object's drawn position
            assert (refs[0].camera, round(obj.x, 4), round(obj.y, 4)) == (obj.camera, refs[0].x, refs[0].y)
            x0, y0, x1, y1 = obj.box
            assert x0 <= refs[0].x <= x1 and y0 <= refs[0].y <= y1
        options = parse_options(it["question"])
        template = it["template"]
        if template == "moving_status":
            assert obj.cls in ("car", "truck")
            assert options[answer_letter(it["answer"])] == STATUS_OPTION[obj.status]
        elif template == "sign_or_barrier":
            assert yes_no(it["answer"]) == ("yes" if obj.cls in ("sign", "barrier") else "no")
        elif template == "ego_behavior":
            assert options[answer_letter(it["answer"])] == f"{STEER_TEXT[scene.steering]} {SPEED_TEXT[scene.speed]}"
        elif template == "important_objects":
            listed = {(r.id, r.x, r.y) for r in parse_object_refs(it["answer"])}
            assert listed == {(o.id, round(o.x, 4), round(o.y, 4)) for o in scene.objects}
        elif template == "plan_collision" and obj.lane == 0 and obj.cls in ("car", "truck", "pedestrian", "barrier"):
            assert it["answer"] == "Accelerate and go straight ahead."
        elif template == "plan_action" and obj.cls == "traffic_light" and obj.status == "red":
            assert it["answer"].startswith("The action is to brake gently to a stop.")
        if obj is not None and "object" in it["facts"]:
            assert it["facts"]["object"] == obj.id and it["facts"]["class"] == obj.cls
        assert oracle_key(it) == answer_key(template, it["answer"]), it["id"]


def test_text_only_prior_scores_far_below_the_scene_graph_oracle(tmp_path):
    """The documented gap: an oracle reading the scene is perfect, a text-only prior is near chance."""
    root = tmp_path / "bench"
    generate(root, SynthConfig(seed=11, train=2400, eval=800, image_size=32, corruptions=()))
    items = _eval(root)
    train = json.loads((root / "train.json").read_text())
    records = [(t["meta"]["template"], t["messages"][0]["content"].replace("<image>", ""),
                t["meta"]["reference_answer"]) for t in train]
    oracle = closed_accuracy(items, oracle_key)
    priors = {}
    for use_position in (False, True):
        prior = TextPrior(use_position=use_position).fit(records)
        predict = lambda it, p=prior: p.predict(it["template"], it["question"])  # noqa: E731
        priors[use_position] = closed_accuracy(items, predict)
        per_template = accuracy_by_template(items, predict)
        assert all(per_template[t] <= 0.7 for t in CLOSED if t in per_template), per_template
    assert oracle == 1.0
    assert priors[False] <= 0.5 and priors[True] <= 0.5, priors
    assert oracle - max(priors.values()) >= 0.45


def _scene(seed: int) -> Scene:
    return layout(sample_scene(random.Random(seed), f"t{seed}"))


def _pixels(scene: Scene) -> np.ndarray:
    return np.asarray(render(scene, "CAM_FRONT", 96), dtype=float)


def _in_box(img: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v * img.shape[1])) for v in box)
    return img[max(0, y0):max(1, y1), max(0, x0):max(1, x1)]


@pytest.mark.parametrize("seed", range(12))
def test_every_object_is_visible_at_its_reference_point(seed):
    """Removing an object changes the pixels around the point its reference names: nothing
    is hidden behind another object, so every question about it can be answered."""
    scene = _scene(seed)
    full = _pixels(scene)
    for obj in scene.objects:
        without = _pixels(dataclasses.replace(scene, objects=[o for o in scene.objects if o is not obj]))
        px, py = int(obj.x * 96), int(obj.y * 96)
        around = (slice(max(0, py - 1), py + 2), slice(max(0, px - 1), px + 2))
        assert np.abs(full[around] - without[around]).max() > 60, (obj.cls, obj.lane, obj.distance)
        assert np.abs(_in_box(full, obj.box) - _in_box(without, obj.box)).max() > 60


def test_visible_cues_change_with_the_facts_they_encode():
    scene = _scene(1)
    vehicle = next(o for o in scene.objects if o.cls in ("car", "truck"))
    base = _pixels(scene)
    for status in ("going_ahead", "turn_left", "turn_right", "stopped"):
        if status != vehicle.status:
            changed = dataclasses.replace(scene, objects=[dataclasses.replace(o, status=status) if o is vehicle else o
                                                          for o in scene.objects])
            assert np.abs(_pixels(changed) - base).max() > 60, status
    for field, values in (("steering", STEER_TEXT), ("speed", SPEED_TEXT), ("time", ("day", "dusk", "night"))):
        for value in values:
            if value != getattr(scene, field):
                changed = layout(dataclasses.replace(scene, **{field: value}))
                assert np.abs(_pixels(changed) - base).sum() > 0, (field, value)


def test_six_camera_mode_filters_cameras_like_drivebench(tmp_path):
    root = tmp_path / "six"
    generate(root, SynthConfig(seed=5, train=8, eval=40, image_size=32, cameras=6, corruptions=()))
    items = drivebench.load(root / "drivebench-clean.json")
    for item in items:
        if item.objects:
            assert list(item.cameras) == sorted({o.camera for o in item.objects}, key=SIX_CAMERAS.index)
        else:
            assert list(item.cameras) == list(SIX_CAMERAS)
    assert any(o.camera != "CAM_FRONT" for i in items for o in i.objects)


@pytest.mark.parametrize("config,phrase", [
    (SynthConfig(cameras=3), "--cameras must be 1 or 6"),
    (SynthConfig(image_size=8), "--image-size"),
    (SynthConfig(train=-1), "must be ≥ 0"),
    (SynthConfig(corruptions=("fgo",)), "did you mean 'fog'"),
])
def test_bad_options_are_one_line_errors(tmp_path, config, phrase):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match=phrase):
        generate(tmp_path / "x", config)


def test_an_existing_benchmark_is_kept_unless_forced(tmp_path):
    root = tmp_path / "b"
    generate(root, SynthConfig(train=8, eval=8, image_size=32, corruptions=()))
    with pytest.raises(DataError, match="--force"):
        generate(root, SynthConfig(train=8, eval=8, image_size=32, corruptions=()))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="not a synthetic benchmark"):
        generate(tmp_path / "other", SynthConfig(train=8, eval=8, corruptions=()), force=True)
    generate(root, SynthConfig(seed=1, train=8, eval=8, image_size=32, corruptions=()), force=True)
    assert json.loads((root / "manifest.json").read_text())["seed"] == 1


def test_items_come_in_frames_and_frames_in_scenes_like_drivebench(synth_root):
    """About seven questions per key frame (here eight) and several frames per scene, so a report
    resamples the clusters DriveBench has; consecutive frames share a scene."""
    from collections import Counter

    items = _eval(synth_root)
    per_frame = Counter(it["frame_token"] for it in items)
    assert set(per_frame.values()) == {8}
    frames_per_scene = Counter()
    for frame, scene in {(it["frame_token"], it["scene_token"]) for it in items}:
        frames_per_scene[scene] += 1
    assert set(frames_per_scene.values()) == {4}
    assert all(it["id"].split(":")[0] == items[8 * (i // 8)]["id"].split(":")[0] for i, it in enumerate(items))
