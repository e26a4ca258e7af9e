"""The demo's second stage for a study that fine-tunes its teachers and pretrains its students.

The default demo (the colour study) ships its teachers and starts its students from the zoo;
the DriveBench-style study (ablations/tiny/drivebench_methods.yaml) fine-tunes a teacher with
the grounding warm-up and pretrains a student per family. This checks that second path of
:func:`harness.demo.models.prepare_family` on the study's quick form, one family, without the
28 student runs the whole pipeline would add.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.demo.plan import DRIVEBENCH_ABLATION

pytestmark = pytest.mark.slow


def test_a_study_that_fine_tunes_gets_its_teacher_and_pretrained_student_built_and_evaluated(tmp_path, monkeypatch):
    from harness.demo.models import build_inputs, prepare_family
    from harness.demo.pipeline import plan_demo

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    plan = plan_demo(ablation=DRIVEBENCH_ABLATION, quick=True, out=tmp_path / "demo")
    build_inputs(str(plan.ablation), 0, 1)
    prepared = prepare_family(str(plan.ablation), "qwen2_5_vl", "qwen2_5_vl_agp", str(plan.out), 1)
    assert prepared.family == "qwen2_5_vl" and set(prepared.folders) == set(prepared.evals) == {"student", "teacher"}
    assert prepared.folders["student"] != prepared.folders["teacher"]
    for role, folder in prepared.evals.items():
        info = json.loads((Path(folder) / "run.json").read_text())
        assert info["status"] == "finished", role
        scores = pd.read_parquet(Path(folder) / "eval" / "scores.parquet")
        assert set(scores["setting"]) == {"clean", "text_only", "fog", "low_light"}, role
    again = prepare_family(str(plan.ablation), "qwen2_5_vl", "qwen2_5_vl_agp", str(plan.out), 1)
    assert again.folders == prepared.folders and again.evals == prepared.evals  # cached by content, reused
