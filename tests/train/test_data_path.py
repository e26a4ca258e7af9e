"""Gradient checkpointing keeps captured maps exact; the prefetching stream and shared teacher batches."""

from __future__ import annotations

import pytest
import torch

from harness.data.collate import collate_train, same_encoding
from harness.models import load_model
from harness.signals import AttentionCapture
from harness.train.batches import MicroBatchStream
from harness.train.recompute import enable_gradient_checkpointing
from tests.models.zoo_fixtures import image_paths, samples, zoo_cache  # noqa: F401


def gradients(family: str, samples, checkpointing: bool) -> tuple[dict[str, torch.Tensor], int]:
    loaded = load_model({"family": family, "zoo": "student"})
    model = loaded.model
    model.train()
    if checkpointing:
        enable_gradient_checkpointing(model)
    batch = collate_train(samples[:2], loaded)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        with AttentionCapture(loaded, [0, 1, 3], grad=True) as cap:
            out = model(**batch.model_inputs(with_labels=True))
    weight = torch.Generator().manual_seed(0)
    maps = sum((m * torch.rand(m.shape, generator=weight)).sum() for m in cap.maps.values())
    (out.loss + 100.0 * maps).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, sum(saved)


@pytest.mark.parametrize("family", ["internvl3", "qwen2_5_vl"])
def test_gradient_checkpointing_keeps_captured_maps_exact(family, samples, zoo_cache):
    plain, saved_plain = gradients(family, samples, checkpointing=False)
    checked, saved_checked = gradients(family, samples, checkpointing=True)
    assert saved_checked < saved_plain  # it really checkpoints
    assert plain.keys() == checked.keys()
    q0 = next(n for n in plain if "layers.0.self_attn.q_proj.weight" in n)
    assert plain[q0].abs().max() > 0  # the maps' loss reaches the captured layers' projections
    for name in plain:
        torch.testing.assert_close(checked[name], plain[name], rtol=1e-4, atol=1e-6, msg=name)


def test_stream_yields_the_same_batches_as_collating_in_the_loop(samples, zoo_cache):
    loaded = load_model({"family": "internvl3", "zoo": "student"})
    micro = [samples[:2], samples[2:3], samples[1:3]]
    for workers in (0, 2):
        stream = MicroBatchStream(loaded, micro, num_workers=workers)
        got = stream.take(2) + stream.take(5)
        assert [s for s, _ in got] == micro
        for samples_, batch in got:
            want = collate_train(samples_, loaded)
            assert batch.ids == want.ids
            for key, value in want.inputs.items():
                assert torch.equal(batch.inputs[key], value), key


def test_teachers_of_the_same_processor_share_the_students_batch(zoo_cache):
    student = load_model({"family": "internvl3", "zoo": "student"})
    assert same_encoding(student, load_model({"family": "internvl3", "zoo": "teacher_l"}))
    assert not same_encoding(student, load_model({"family": "qwen2_5_vl", "zoo": "student"}))
