"""Teacher fine-tuning with the grounding warm-up (docs/grounding.md)."""

import pytest
import torch

from harness.data.types import TrainSample
from harness.errors import HarnessError
from harness.recipe.schema import SFTSpec
from harness.train import sft

ANSWER = "Final: {A. Stopped.}\nObject: car\nEnvironment: night, wet road\nContextual evidence: brake lights"


def sample(i, answer=ANSWER, images=()):
    return TrainSample(f"s{i}", tuple(images), "What is the status?", answer, "perception")


def test_grounding_samples_keep_only_the_environment_line():
    out = sft.grounding_samples([sample(0), sample(1, answer="Final: {Yes.}")])
    assert [s.answer for s in out] == ["Environment: night, wet road"]
    assert out[0].id == "s0" and out[0].question == "What is the status?"


def test_plan_warms_up_on_environment_lines_and_mixes_them_in():
    samples = [sample(i) for i in range(8)]
    warm, main = sft.grounding_plan(samples, SFTSpec(grounding_steps=3, grounding_mix=0.5), seed=0)
    assert {s.answer for s in warm} == {"Environment: night, wet road"} and len(warm) == 8
    assert len(main) == 12 and [s.answer for s in main].count(ANSWER) == 8
    assert sft.grounding_plan(samples, SFTSpec(grounding_mix=0.5), seed=0)[0] == []
    assert sft.grounding_plan(samples, SFTSpec(), seed=0) == ([], samples)


def test_grounding_without_environment_lines_is_a_clear_error():
    with pytest.raises(HarnessError, match="Environment"):
        sft.grounding_plan([sample(0, answer="Final: {No.}")], SFTSpec(grounding_steps=2), seed=0)


def test_train_teacher_runs_the_warm_up_then_the_fine_tuning(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    from PIL import Image

    from harness.models import load_model

    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64), (20, 20, 80)).save(image)
    loaded = load_model({"family": "internvl3", "zoo": "student"})
    before = [p.detach().clone() for p in loaded.model.parameters()]
    samples = [sample(i, images=[str(image)]) for i in range(4)]
    losses = sft.train_teacher(loaded, samples, SFTSpec(max_steps=2, batch_size=2, grounding_steps=2), seed=0, progress=False)
    assert set(losses) == {"grounding", "sft"}
    assert all(torch.isfinite(torch.tensor(v["last"])) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, loaded.model.parameters()))
