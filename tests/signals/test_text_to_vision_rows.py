"""Text-to-vision rows that cannot see the image (tokens before the sample's first image token,
which causal attention keeps from every image token) are left out of the loss by default;
``rows: all`` keeps them, as Drive-KD's released trainer does."""

import copy

import pytest
import torch

from harness.data.collate import Batch, collate_train
from harness.errors import RecipeError
from harness.recipe import load_recipe, recipe_from_dict
from harness.registry import LOSSES, SIGNALS
from tests.foundation.test_identity import BASE


def _batch(image_rows, valid_rows, side="right"):
    """A batch of plain masks: per sample the positions of its image tokens and of its valid tokens."""
    seq = 10
    image = torch.zeros(len(image_rows), seq, dtype=torch.bool)
    valid = torch.zeros(len(image_rows), seq, dtype=torch.long)
    for i, (img, val) in enumerate(zip(image_rows, valid_rows)):
        image[i, list(img)] = True
        valid[i, list(val)] = 1
    return Batch(inputs={"input_ids": torch.zeros(len(image_rows), seq, dtype=torch.long), "attention_mask": valid},
                 labels=None, image_mask=image, capabilities=torch.zeros(len(image_rows), dtype=torch.long),
                 capability_names=["perception"] * len(image_rows), ids=[str(i) for i in range(len(image_rows))],
                 padding_side=side)


BATCH = _batch(
    image_rows=[range(3, 5), [2, 3, 6, 7], range(5, 7), ()],
    valid_rows=[range(0, 8), range(0, 10), range(2, 10), range(0, 6)],  # right-padded, full, left-padded, no image
)


def test_rows_before_the_first_image_token_are_left_out():
    after = SIGNALS.build({"name": "text_to_vision"}, field="signal").entry_mask(BATCH)
    every = SIGNALS.build({"name": "text_to_vision", "rows": "all"}, field="signal").entry_mask(BATCH)
    rows = lambda mask, i: sorted(set(torch.nonzero(mask[i])[:, 0].tolist()))  # noqa: E731
    assert rows(every, 0) == [0, 1, 2, 5, 6, 7] and rows(after, 0) == [5, 6, 7]
    assert rows(every, 1) == [0, 1, 4, 5, 8, 9] and rows(after, 1) == [4, 5, 8, 9]  # two images: the first decides
    assert rows(every, 2) == [2, 3, 4, 7, 8, 9] and rows(after, 2) == [7, 8, 9]  # left padding
    assert not every[3].any() and not after[3].any()  # no image: nothing to compare
    # columns are the sample's image tokens either way
    assert torch.equal(after.any(dim=1), every.any(dim=1))
    assert torch.equal(every & after, after)


def test_the_loss_is_the_hand_computed_masked_mse():
    generator = torch.Generator().manual_seed(0)
    student = torch.rand(4, 10, 10, generator=generator)
    teacher = torch.rand(4, 10, 10, generator=generator)
    mask = SIGNALS.build({"name": "text_to_vision"}, field="signal").entry_mask(BATCH)
    value = LOSSES.build("mse", field="loss")(student, teacher, mask)
    per_sample = []
    for i in range(4):
        image = [c for c in range(10) if BATCH.image_mask[i, c] and BATCH.attention_mask[i, c]]
        if not image:
            continue  # a sample without image tokens has no block
        first = min(image)
        rows = [r for r in range(10) if BATCH.attention_mask[i, r] and r > first and r not in image]
        squares = [float((student[i, r, c] - teacher[i, r, c]) ** 2) for r in rows for c in image]
        per_sample.append(sum(squares) / len(squares))
    assert value.item() == pytest.approx(sum(per_sample) / len(per_sample), rel=1e-6)


def test_a_real_prompt_has_rows_before_its_image_and_they_are_zero_for_the_teacher(load_zoo, samples):
    from harness.signals import AttentionCapture

    teacher = load_zoo("internvl3", "teacher_s")
    batch = collate_train(samples, teacher)
    after = SIGNALS.build({"name": "text_to_vision"}, field="signal").entry_mask(batch)
    every = SIGNALS.build({"name": "text_to_vision", "rows": "all"}, field="signal").entry_mask(batch)
    left_out = every & ~after
    assert left_out.any(), "the chat template puts text before the image"
    with torch.no_grad(), AttentionCapture(teacher, [0], grad=False) as cap:
        teacher.model(**batch.model_inputs())
    assert float(cap.maps[0][left_out].abs().max()) == 0.0  # causal: those rows cannot see any image token
    assert float(cap.maps[0][after].abs().max()) > 0.0


def test_rows_is_an_option_of_the_signal_that_round_trips_and_enters_the_identity(tmp_path):
    default = recipe_from_dict(BASE)
    assert default.resolved["objectives"]["perception"]["signal"]["rows"] == "after_image"
    assert "rows" not in default.resolved["objectives"]["planning"]["signal"]  # full attention takes no rows
    assert default.resolved["versions"]["signals"]["text_to_vision"] == 2
    released = copy.deepcopy(BASE)
    released["objectives"]["perception"]["signal"]["rows"] = "all"
    released = recipe_from_dict(released)
    assert released.spec.objectives["perception"].signal.options == {"rows": "all"}
    assert released.hash != default.hash
    path = tmp_path / "recipe.resolved.yaml"
    path.write_text(released.to_yaml())
    again = load_recipe(path)
    assert again.hash == released.hash and again.resolved == released.resolved
    old = copy.deepcopy(released.resolved)
    old["versions"]["signals"]["text_to_vision"] = 1  # resolved before rows existed
    with pytest.raises(RecipeError, match=r"versions\.signals\.text_to_vision: .*version 1.*version 2"):
        recipe_from_dict(old)


@pytest.mark.parametrize("signal,field,message", [
    ({"rows": "before"}, "objectives.perception.signal.rows", "'after_image' or 'all'"),
    ({"roes": "all"}, "objectives.perception.signal.roes", "did you mean 'rows'"),
    ({"layres": "first"}, "objectives.perception.signal.layres", "did you mean 'layers'"),
])
def test_a_bad_rows_option_names_its_field(signal, field, message):
    data = copy.deepcopy(BASE)
    data["objectives"]["perception"]["signal"].update(signal)
    with pytest.raises(RecipeError, match=message) as info:
        recipe_from_dict(data)
    assert str(info.value).startswith(field)


def test_rows_is_refused_by_a_signal_without_it():
    data = copy.deepcopy(BASE)
    data["objectives"]["planning"]["signal"]["rows"] = "all"
    with pytest.raises(RecipeError, match=r"objectives\.planning\.signal\.rows: unknown option 'rows' of signal 'full'"):
        recipe_from_dict(data)
