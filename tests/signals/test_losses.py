"""Loss properties: zero on equal inputs, never negative, gradients reach the student only."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.registry import LOSSES
from harness.signals.losses import CosineLoss, HiddenLoss, KLLoss, MSELoss, SignalShapeError

LOSS_NAMES = ["mse", "cosine", "kl", "hidden"]


def _make(name):
    return LOSSES.get(name)()


shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), name=st.sampled_from(LOSS_NAMES), masked=st.booleans())
def test_zero_when_equal_and_never_negative(shape, seed, name, masked):
    g = torch.Generator().manual_seed(seed)
    student = torch.rand(shape, generator=g, dtype=torch.float64)
    teacher = torch.rand(shape, generator=g, dtype=torch.float64)
    mask = (torch.rand(shape, generator=g) > 0.3) if masked else None
    loss = _make(name)
    assert loss(student, student.clone(), mask).item() == pytest.approx(0.0, abs=1e-9)
    assert loss(student, teacher, mask).item() >= 0.0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradients_reach_the_student_only(name):
    g = torch.Generator().manual_seed(1)
    student = torch.rand(2, 5, 4, generator=g, requires_grad=True)
    teacher = torch.rand(2, 5, 4, generator=g, requires_grad=True)
    loss = _make(name)(student, teacher)
    loss.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_mse_is_per_sample_block_mean_then_batch_mean():
    student = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]])
    teacher = torch.zeros_like(student)
    mask = torch.tensor([[[True, False], [True, True]], [[False, False], [False, True]]])
    expected = ((1 + 9 + 16) / 3 + 1 / 1) / 2
    assert MSELoss()(student, teacher, mask).item() == pytest.approx(expected)


def test_empty_blocks_are_left_out_not_counted_as_zero():
    student, teacher = torch.ones(2, 2, 2), torch.zeros(2, 2, 2)
    mask = torch.zeros(2, 2, 2, dtype=torch.bool)
    mask[0] = True
    assert MSELoss()(student, teacher, mask).item() == pytest.approx(1.0)
    none = MSELoss()(student.requires_grad_(), teacher, torch.zeros_like(mask))
    assert none.item() == 0.0 and none.requires_grad


def test_cosine_matches_one_minus_cosine():
    s, t = torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 1.0]])
    assert CosineLoss()(s, t).item() == pytest.approx(1 - 0.5)
    assert CosineLoss()(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0


def test_kl_temperature_and_mask():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(2, 4, 7, generator=g), torch.randn(2, 4, 7, generator=g)
    direct = torch.nn.functional.kl_div(torch.log_softmax(s / 2, -1), torch.log_softmax(t / 2, -1), log_target=True,
                                        reduction="none").sum(-1) * 4
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]], dtype=torch.bool)
    expected = (direct[0, :2].mean() + direct[1, 1:].mean()) / 2
    assert KLLoss(temperature=2.0)(s, t, mask[..., None]).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(Exception, match="temperature must be > 0"):
        KLLoss(temperature=0.0)


def test_hidden_projects_when_widths_differ_and_learns():
    loss = HiddenLoss()
    student = torch.randn(2, 3, 4, requires_grad=True)
    teacher = torch.randn(2, 3, 6, requires_grad=True)
    value = loss(student, teacher)
    assert loss.projection is not None and loss.projection.weight.shape == (6, 4)
    value.backward()
    assert loss.projection.weight.grad is not None and student.grad is not None and teacher.grad is None
    with pytest.raises(SignalShapeError, match="project is off"):
        HiddenLoss(project=False)(torch.randn(1, 2, 3), torch.randn(1, 2, 5))


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(SignalShapeError, match=r"student signal has shape \(1, 3, 3\) but the teacher's is \(1, 4, 4\)"):
        MSELoss()(torch.zeros(1, 3, 3), torch.zeros(1, 4, 4))


def test_options_are_keyword_constructor_arguments():
    import inspect

    assert list(inspect.signature(KLLoss).parameters) == ["temperature"]
    assert inspect.signature(KLLoss).parameters["temperature"].default == 1.0
    assert list(inspect.signature(MSELoss).parameters) == []
    assert set(LOSS_NAMES) <= set(LOSSES.names())
