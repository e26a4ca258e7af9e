"""Batched greedy generation on the tiny zoo: prompts, timing, determinism, efficiency."""

from __future__ import annotations

import pytest
import torch

from harness.eval.efficiency import EfficiencyMeter, MemoryProbe, device_name
from harness.eval.generate import generate_answers
from harness.eval.prompts import DRIVEBENCH_BRIEF, build_prompt, resolve_system_prompt


def test_prompt_carries_the_brief_cameras_and_question(synthetic):
    item = synthetic.eval_items("clean")[1]
    prompt = build_prompt(item, resolve_system_prompt("drivebench"))
    assert prompt.endswith(item.question) and "images given here come from: front." in prompt
    assert "{cameras}" not in prompt and "six camera" in prompt
    assert build_prompt(item, resolve_system_prompt("none")) == item.question
    assert "<id,CAMERA,x,y>" in DRIVEBENCH_BRIEF


def test_the_brief_is_off_unless_asked_for():
    # training conversations carry the bare question; evaluation asks the same way by default
    from harness.commands.eval import configure
    from harness.eval.api import DEFAULT_SYSTEM_PROMPT
    from harness.recipe.schema import EvalSpec
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    assert EvalSpec().system_prompt == DEFAULT_SYSTEM_PROMPT == "none"
    assert parser.get_default("system_prompt") == "none"


def test_generation_is_deterministic_and_timed(zoo_student, synthetic):
    items = synthetic.eval_items("clean")[:5]
    meter = EfficiencyMeter(device=device_name(torch.device("cpu")), batch_size=2)
    memory = MemoryProbe(torch.device("cpu"))
    first = generate_answers(zoo_student, items, brief="", batch_size=2, max_new_tokens=5, meter=meter, memory=memory)
    again = generate_answers(zoo_student, items, brief="", batch_size=2, max_new_tokens=5)
    assert [g.prediction for g in first] == [g.prediction for g in again]
    assert [g.item_id for g in first] == [it.id for it in items]
    assert [g.batch for g in first] == [0, 0, 1, 1, 2]
    assert all(1 <= g.n_new_tokens <= 5 and g.seconds > 0 and g.first_token_s > 0 for g in first)
    summary = meter.summary(memory.peak_mb())
    assert summary["batches"] == 3 and summary["device"] == "cpu" and summary["batch_size"] == 2
    assert summary["first_token_latency_s"] > 0 and summary["peak_memory_mb"] > 50
    assert summary["decode_tokens"] == sum(g.n_new_tokens for g in first) - len(first)
    if summary["decode_tokens"]:
        assert summary["tokens_per_second"] > 0


def test_generation_stops_at_the_end_token(zoo_student, synthetic):
    """A row that ends early counts its tokens up to the end token, not the padding after it."""
    from harness.eval.generate import _new_token_rows

    seq = torch.tensor([[5, 6, 7, 2, 0, 0], [5, 6, 8, 9, 10, 11]])
    assert _new_token_rows(seq, 2, {2}) == [[7, 2], [8, 9, 10, 11]]


@pytest.mark.slow
def test_qwen_family_generates_with_its_3d_rotary_inputs(eval_cache, synthetic):
    """Qwen2.5-VL batches carry mm_token_type_ids and image_grid_thw; generation must accept them."""
    from harness.models import load_model

    qwen = load_model({"family": "qwen2_5_vl", "zoo": "student"})
    items = synthetic.eval_items("clean")[:3]
    first = generate_answers(qwen, items, brief=resolve_system_prompt("drivebench"), batch_size=3, max_new_tokens=3)
    again = generate_answers(qwen, items, brief=resolve_system_prompt("drivebench"), batch_size=3, max_new_tokens=3)
    assert [g.prediction for g in first] == [g.prediction for g in again]
    assert all(1 <= g.n_new_tokens <= 3 for g in first)
