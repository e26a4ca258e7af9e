"""`harness data synth|check|convert` through the real CLI entry point."""

from __future__ import annotations

import json

from harness.cli import main

from .conftest import CLEAN


def test_synth_check_and_convert(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["data", "synth", "--out", str(out), "--seed", "1", "--train", "16", "--eval", "16",
                 "--image-size", "32", "--corruptions", "fog,zoom_blur"]) == 0
    assert "16 training items, 16 eval items over 2 frames in 1 scene(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("drivebench-*.json")) == [
        "drivebench-clean.json", "drivebench-fog.json", "drivebench-text_only.json", "drivebench-zoom_blur.json"]

    assert main(["data", "check", str(out / "drivebench-clean.json")]) == 0
    text = capsys.readouterr().out
    assert "16 valid items" in text and "capability: perception 4, planning 6, reasoning 6" in text
    assert "kind: mcq 4, open 10, yes_no 2" in text

    assert main(["data", "check", str(out / "train.json")]) == 0
    assert "training format, 16 valid samples" in capsys.readouterr().out

    converted = tmp_path / "conv" / "train.json"
    assert main(["data", "convert", str(CLEAN), str(converted), "--text-only"]) == 0
    assert "50 training items written" in capsys.readouterr().out
    assert len(json.loads(converted.read_text())) == 50


def test_user_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["data", "check", str(CLEAN)]) == 2  # the nuScenes images are not here
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness data: error: drivebench-clean-sample.json: item 0: field 'image_path.")
    assert "\n" not in err
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--corruptions", "fgo"]) == 2
    assert "did you mean 'fog'" in capsys.readouterr().err
    assert main(["data", "check", str(CLEAN), "--text-only"]) == 0


def test_synth_templates_choose_the_questions(tmp_path, capsys):
    out = tmp_path / "colour"
    assert main(["data", "synth", "--out", str(out), "--train", "8", "--eval", "8", "--image-size", "32",
                 "--corruptions", "", "--templates", "object_colour"]) == 0
    assert {it["template"] for it in json.loads((out / "drivebench-clean.json").read_text())} == {"object_colour"}
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--templates", "colour"]) == 2
    err = capsys.readouterr().err.strip()
    assert "templates: colour" in err and "\n" not in err and not (tmp_path / "x").exists()
