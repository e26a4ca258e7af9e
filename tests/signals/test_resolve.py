"""Signal resolution against each model's depth, layout checks, and signal losses end to end."""

import pytest
import torch

from harness.data.collate import collate_train
from harness.registry import SIGNALS
from harness.signals import (
    AttentionCapture,
    SignalError,
    check_same_layout,
    resolve_signal,
    signal_loss,
    teacher_targets,
)
from harness.signals.losses import MSELoss


def test_single_layer_signals_resolve_per_depth(load_zoo):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_l")
    plan = resolve_signal({"type": "text_to_vision", "layers": "penultimate"}, student, teacher)
    assert plan.student_layers == (2,) and plan.teacher_groups == ((6,),)
    plan = resolve_signal({"attention": "full", "layers": "first", "matching": "none"}, student, teacher)
    assert plan.student_layers == (0,) and plan.teacher_layers == [0]


def test_range_with_group_matching(load_zoo):
    student, teacher = load_zoo("qwen2_5_vl", "student"), load_zoo("qwen2_5_vl", "teacher_l")
    plan = resolve_signal({"type": "full", "layers": {"start": 0, "end": -2}, "matching": "group"}, student, teacher)
    # k = 3 (0..2 of 4), m = 7 (0..6 of 8) → g = 5
    assert plan.student_layers == (0, 1, 2)
    assert plan.teacher_groups == ((0, 1, 2, 3, 4), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6))
    assert plan.teacher_layers == list(range(7))


def test_pairs_matching(load_zoo):
    student, teacher = load_zoo("qwen2_5_vl", "student"), load_zoo("qwen2_5_vl", "teacher_s")
    plan = resolve_signal({"type": "full", "matching": "pairs", "pairs": [[0, 0], [-1, -1], [-1, 4]]}, student, teacher)
    assert plan.student_layers == (0, 3) and plan.teacher_groups == ((0,), (5, 4))


def test_out_of_range_names_both_models(load_zoo):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_s")
    with pytest.raises(SignalError) as info:
        resolve_signal({"type": "text_to_vision", "layers": 5}, student, teacher)
    message = str(info.value)
    assert "internvl3:zoo/student (4 layers)" in message and "internvl3:zoo/teacher_s (6 layers)" in message
    assert "layer 5 is out of range" in message


def test_none_matching_of_ranges_of_different_size_explains(load_zoo):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_s")
    with pytest.raises(SignalError, match="use matching: group or uniform"):
        resolve_signal({"type": "full", "layers": {"start": 0, "end": -2}}, student, teacher)


def test_unknown_signal_type_suggests():
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="did you mean 'text_to_vision'"):
        SIGNALS.get("text_to_visoin")


def test_layout_mismatch_names_both_models_and_lengths(load_zoo, samples):
    a, b = load_zoo("internvl3", "student"), load_zoo("qwen2_5_vl", "student")
    batch_a, batch_b = collate_train(samples[:1], a), collate_train(samples[:1], b)
    with pytest.raises(SignalError) as info:
        check_same_layout(a.name, b.name, batch_a, batch_b)
    message = str(info.value)
    assert a.name in message and b.name in message
    assert f"sequence length {batch_a.input_ids.shape[1]}" in message
    assert f"sequence length {batch_b.input_ids.shape[1]}" in message
    check_same_layout(a.name, "internvl3:zoo/teacher_l", batch_a, collate_train(samples[:1], load_zoo("internvl3", "teacher_l")))


@pytest.mark.parametrize("family", ["internvl3", "qwen2_5_vl"])
@pytest.mark.parametrize("signal", [
    {"type": "text_to_vision", "layers": "first"},
    {"type": "full", "layers": {"start": 0, "end": -2}, "matching": "group"},
])
def test_captured_signal_loss_equals_the_eager_plain_path(family, signal, load_zoo, samples):
    """Optimised path (sdpa + capture of chosen layers) == plain path (eager attentions of every layer)."""
    student, teacher = load_zoo(family, "student"), load_zoo(family, "teacher_l")
    student_eager, teacher_eager = load_zoo(family, "student", "eager"), load_zoo(family, "teacher_l", "eager")
    batch = collate_train(samples, student)
    plan = resolve_signal(signal, student, teacher)
    loss = MSELoss()

    with torch.no_grad(), AttentionCapture(teacher, plan.teacher_layers, grad=False) as tcap:
        teacher.model(**batch.model_inputs())
    with AttentionCapture(student, plan.student_layers) as scap:
        student.model(**batch.model_inputs())
    fast = signal_loss(plan, loss, scap.maps, teacher_targets(plan, tcap.maps), batch)

    with torch.no_grad():
        t_all = teacher_eager.model(**batch.model_inputs(), output_attentions=True).attentions
        s_all = student_eager.model(**batch.model_inputs(), output_attentions=True).attentions
    mask = plan.kind.entry_mask(batch)
    plain = []
    for s_layer, group in zip(plan.student_layers, plan.teacher_groups):
        target = torch.stack([t_all[t].mean(1) for t in group]).mean(0)
        per_sample = [((s_all[s_layer].mean(1)[i] - target[i]) ** 2)[mask[i]].mean() for i in range(len(batch))
                      if mask[i].any()]
        plain.append(torch.stack(per_sample).mean())
    assert fast.item() == pytest.approx(torch.stack(plain).mean().item(), rel=1e-4, abs=1e-9)
    assert fast.item() > 0
    fast.backward()
    assert student.decoder_layers()[0].self_attn.q_proj.weight.grad is not None
    student.model.zero_grad(set_to_none=True)


def test_text_to_vision_mask_is_the_block(load_zoo, samples):
    student = load_zoo("internvl3", "student")
    batch = collate_train(samples, student)
    mask = SIGNALS.get("text_to_vision")(rows="all").entry_mask(batch)
    valid = batch.attention_mask.bool()
    for i in range(len(batch)):
        rows = (valid[i] & ~batch.image_mask[i]).sum()
        cols = batch.image_mask[i].sum()
        assert int(mask[i].sum()) == int(rows * cols)
        assert not mask[i][batch.image_mask[i]].any()  # image-token rows are excluded


def test_hidden_and_logits_baselines(load_zoo, samples):
    from harness.signals import hidden_states_of
    from harness.signals.losses import HiddenLoss, KLLoss

    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_l")
    logits_plan = resolve_signal({"type": "logits", "layers": "last"}, student, teacher)
    assert logits_plan.student_layers == () and logits_plan.kind.needs == "logits"
    hidden_plan = resolve_signal({"type": "hidden", "layers": "last"}, student, teacher)
    assert hidden_plan.student_layers == (3,) and hidden_plan.teacher_groups == ((7,),)

    batch = collate_train(samples, student)
    with torch.no_grad():
        t_out = teacher.model(**batch.model_inputs(), output_hidden_states=True)
    s_out = student.model(**batch.model_inputs(), output_hidden_states=True)
    hidden_loss = HiddenLoss()
    hidden_loss.prepare(64, 128)
    value = signal_loss(hidden_plan, hidden_loss, hidden_states_of(s_out, [3]),
                        teacher_targets(hidden_plan, hidden_states_of(t_out, [7])), batch)
    kl = KLLoss(temperature=2.0)(s_out.logits, t_out.logits, logits_plan.kind.entry_mask(batch))
    (value + kl).backward()
    assert value.item() > 0 and kl.item() > 0
    assert hidden_loss.projection.weight.grad is not None
    # the logits mask marks positions that predict answer tokens (labels shifted by one)
    mask = logits_plan.kind.entry_mask(batch)[..., 0]
    assert torch.equal(mask[:, :-1], batch.labels[:, 1:] != -100)
    student.model.zero_grad(set_to_none=True)
