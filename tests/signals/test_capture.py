"""Attention capture equals eager attention, only for requested layers, differentiably."""

import pytest
import torch
import torch.nn.functional as F

from harness.data.collate import collate_train
from harness.models import load_model
from harness.signals.capture import AttentionCapture, attention_probabilities

from harness.registry import FAMILIES as REGISTERED

FAMILIES = REGISTERED.names()  # every registered family, a new one included


def _sharpened(family, size, attn):
    """A fresh zoo model whose q/k are scaled up, so attention is peaked and position-sensitive.

    With the zoo's small init, attention is almost uniform and a wrong rotary or
    mask would still agree to 1e-5; sharpening makes the comparison meaningful.
    """
    loaded = load_model({"family": family, "zoo": size}, attn_implementation=attn)
    with torch.no_grad():
        for layer in loaded.decoder_layers():
            attn_module = layer.self_attn
            # q/k norms (Qwen3) undo a scaled projection, so their gains are scaled instead (less:
            # normalised queries and keys already have unit RMS, so the scores grow faster)
            normed = hasattr(attn_module, "q_norm")
            for part in ("q_norm", "k_norm") if normed else ("q_proj", "k_proj"):
                for tensor in (getattr(attn_module, part).weight, getattr(getattr(attn_module, part), "bias", None)):
                    if tensor is not None:
                        tensor.mul_(2.0 if normed else 6.0)
    return loaded


@pytest.mark.parametrize("family", FAMILIES)
def test_capture_inside_an_eager_forward_equals_its_attentions_exactly(family, samples, zoo_cache):
    """Each layer recomputed from exactly the inputs eager attention saw: the family's own recomputation
    (Qwen3's q/k norms included) reproduces eager attention to float rounding."""
    eager = _sharpened(family, "teacher_l", "eager")
    batch = collate_train(samples, eager)
    with torch.no_grad(), AttentionCapture(eager, range(eager.depth), heads="none", grad=False) as cap:
        reference = eager.model(**batch.model_inputs(), output_attentions=True).attentions
    valid_rows = batch.attention_mask.bool()[:, None, :, None]
    for layer in range(eager.depth):
        diff = (cap.maps[layer] - reference[layer]).abs().masked_select(valid_rows.expand_as(reference[layer]))
        assert diff.max().item() <= 1e-6, (layer, diff.max().item())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", ["student", "teacher_l"])
def test_recomputed_maps_equal_eager_attention(family, size, samples, zoo_cache):
    """Beside a fast (sdpa) forward, in float64: in float32, sdpa's and eager's own rounding reaches
    5e-5 in the deeper layers of the sharpened Qwen3-VL models. (Eager attention takes its softmax in
    float32 even then, and its rounding reaches the later layers: up to 2.2e-6 measured.)"""
    fast, eager = _sharpened(family, size, "sdpa"), _sharpened(family, size, "eager")
    assert fast.model.config.text_config._attn_implementation == "sdpa"
    fast.model.double(), eager.model.double()
    batch = collate_train(samples, fast)
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in batch.model_inputs().items()}
    with torch.no_grad():
        reference = eager.model(**inputs, output_attentions=True).attentions
        with AttentionCapture(fast, range(fast.depth), heads="none", grad=False) as cap:
            fast.model(**inputs)
    valid_rows = batch.attention_mask.bool()[:, None, :, None]
    for layer in range(fast.depth):
        ref = reference[layer]
        assert cap.maps[layer].shape == ref.shape
        diff = (cap.maps[layer] - ref).abs().masked_select(valid_rows.expand_as(ref))
        assert diff.max().item() <= 1e-5, (layer, diff.max().item())
        assert ref.masked_select(valid_rows.expand_as(ref)).max() > 0.5  # maps are genuinely peaked
    # head mean is the mean of the per-head maps
    with torch.no_grad(), AttentionCapture(fast, [0], grad=False) as mean_cap:
        fast.model(**inputs)
    assert torch.allclose(mean_cap.maps[0], reference[0].mean(1), atol=1e-6)


def test_qwen3_needs_its_qk_norm(samples, zoo_cache):
    """The Qwen2-style default (no q/k norm) gives wrong Qwen3-VL maps: its adapter's recomputation matters."""
    from harness.models.attention import qwen2_attention_probabilities

    eager = _sharpened("qwen3_vl", "student", "eager")
    batch = collate_train(samples, eager)
    seen = {}

    def default_hook(module, args, kwargs):
        seen["map"] = qwen2_attention_probabilities(module, kwargs["hidden_states"], kwargs["position_embeddings"],
                                                    kwargs.get("attention_mask"))

    handle = eager.decoder_layers()[1].self_attn.register_forward_pre_hook(default_hook, with_kwargs=True)
    try:
        with torch.no_grad():
            ref = eager.model(**batch.model_inputs(), output_attentions=True).attentions[1]
    finally:
        handle.remove()
    assert (seen["map"] - ref).abs().max().item() > 1e-2


def test_qwen_needs_its_3d_rotary(samples, zoo_cache):
    """Recomputing with plain 1D positions would NOT match eager: the capture uses the 3D rotary."""
    fast, eager = _sharpened("qwen2_5_vl", "student", "sdpa"), _sharpened("qwen2_5_vl", "student", "eager")
    batch = collate_train(samples, fast)
    seen = {}
    text_model = fast.model.model.language_model

    def one_d_hook(module, args, kwargs):
        hidden = kwargs["hidden_states"]
        positions = torch.arange(hidden.shape[1])[None].expand(hidden.shape[0], -1)
        cos, sin = text_model.rotary_emb(hidden, positions[None].expand(3, -1, -1))
        seen["map"] = attention_probabilities(module, hidden, (cos, sin), kwargs.get("attention_mask"))

    handle = fast.decoder_layers()[1].self_attn.register_forward_pre_hook(one_d_hook, with_kwargs=True)
    try:
        with torch.no_grad():
            fast.model(**batch.model_inputs())
            ref = eager.model(**batch.model_inputs(), output_attentions=True).attentions[1]
    finally:
        handle.remove()
    assert (seen["map"] - ref).abs().max().item() > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_unrequested_layers_are_never_materialised(family, load_zoo, samples, monkeypatch):
    loaded = load_zoo(family, "teacher_l")
    batch = collate_train(samples, loaded)
    seq = batch.input_ids.shape[1]
    square_maps = []
    real_softmax, real_f_softmax = torch.softmax, F.softmax

    def counting(fn):
        def wrapper(x, *args, **kwargs):
            if x.dim() >= 3 and x.shape[-1] == seq and x.shape[-2] == seq:
                square_maps.append(tuple(x.shape))
            return fn(x, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(torch, "softmax", counting(real_softmax))
    monkeypatch.setattr(F, "softmax", counting(real_f_softmax))
    with torch.no_grad(), AttentionCapture(loaded, [1, 6], grad=False) as cap:
        loaded.model(**batch.model_inputs())
    assert sorted(cap.maps) == [1, 6]
    assert cap.calls == {1: 1, 6: 1}
    heads = loaded.model.config.text_config.num_attention_heads
    assert len(square_maps) == 2 * heads  # one softmax per head of each requested layer, none for the other six
    # hooks are removed afterwards: a later forward builds nothing
    square_maps.clear()
    with torch.no_grad():
        loaded.model(**batch.model_inputs())
    assert square_maps == []


@pytest.mark.parametrize("family", FAMILIES)
def test_student_maps_are_differentiable_teacher_maps_are_not(family, load_zoo, samples):
    student = load_model({"family": family, "zoo": "student"})
    batch = collate_train(samples[:2], student)
    with AttentionCapture(student, [0, 2], grad=True) as cap:
        student.model(**batch.model_inputs())
    cap.maps[2].sum().backward()
    layers = student.decoder_layers()
    assert layers[2].self_attn.q_proj.weight.grad is not None
    assert layers[2].self_attn.q_proj.weight.grad.abs().sum() > 0
    assert layers[3].self_attn.q_proj.weight.grad is None
    teacher = load_zoo(family, "teacher_s")
    with AttentionCapture(teacher, [0], grad=False) as tcap:
        teacher.model(**batch.model_inputs())
    assert not tcap.maps[0].requires_grad


def test_out_of_range_layer_is_a_clear_error(load_zoo):
    from harness.errors import HarnessError

    loaded = load_zoo("internvl3", "student")
    with pytest.raises(HarnessError, match=r"layer 9 is out of range for internvl3:zoo/student with 4 layers"):
        AttentionCapture(loaded, [9])
