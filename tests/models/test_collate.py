"""Collation: chat template, answer-only labels, padding sides, capabilities, images."""

import pytest
import torch

from harness.data.collate import IGNORE_INDEX, CollateError, Collator, collate_generation, collate_train
from harness.data.types import CAPABILITIES, TrainSample

from harness.registry import FAMILIES as REGISTERED

FAMILIES = REGISTERED.names()  # every registered family


@pytest.mark.parametrize("family", FAMILIES)
def test_labels_cover_exactly_the_answer_turn(family, load_zoo, samples):
    loaded = load_zoo(family, "student")
    batch = collate_train(samples, loaded)
    for row, sample in enumerate(samples):
        labels = batch.labels[row]
        labelled = labels[labels != IGNORE_INDEX]
        assert loaded.tokenizer.decode(labelled) == sample.answer + "<|im_end|>"
        positions = (labels != IGNORE_INDEX).nonzero().flatten()
        assert torch.equal(positions, torch.arange(positions[0], positions[-1] + 1))  # one contiguous span
        assert not batch.image_mask[row, positions].any()
        assert torch.equal(batch.input_ids[row, positions], labelled)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_batches_are_right_padded(family, load_zoo, samples):
    loaded = load_zoo(family, "student")
    batch = collate_train(samples, loaded)
    lengths = batch.attention_mask.sum(1)
    assert len(set(lengths.tolist())) > 1
    for row, n in enumerate(lengths.tolist()):
        assert batch.attention_mask[row, :n].all() and not batch.attention_mask[row, n:].any()
        assert (batch.input_ids[row, n:] == loaded.tokenizer.pad_token_id).all()
        assert (batch.labels[row, n:] == IGNORE_INDEX).all()
    assert batch.padding_side == "right"


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_batches_are_left_padded_and_end_in_the_prompt(family, load_zoo, samples):
    loaded = load_zoo(family, "student")
    batch = collate_generation(loaded, [s.images for s in samples], [s.question for s in samples], ids=["a", "b", "c"])
    assert batch.labels is None and batch.padding_side == "left" and batch.ids == ["a", "b", "c"]
    assert batch.attention_mask[:, -1].all()
    suffix = loaded.tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    assert (batch.input_ids[:, -len(suffix):] == torch.tensor(suffix)).all()
    out = loaded.model.generate(**batch.model_inputs(), max_new_tokens=3, do_sample=False)
    assert out.shape[0] == 3 and out.shape[1] >= batch.input_ids.shape[1] + 1


@pytest.mark.parametrize("family", FAMILIES)
def test_capabilities_and_images_are_carried(family, load_zoo, samples):
    loaded = load_zoo(family, "student")
    batch = collate_train(samples, loaded)
    assert batch.capability_names == [s.capability for s in samples]
    assert batch.capabilities.tolist() == [CAPABILITIES.index(s.capability) for s in samples]
    n_images = sum(len(s.images) for s in samples)
    assert int(batch.image_mask.sum()) == 16 * n_images
    if batch.inputs["pixel_values"].dim() == 4:  # one tile per image (InternVL)
        assert batch.inputs["pixel_values"].shape == (n_images, 3, 56, 56)
    if "image_grid_thw" in batch.inputs:  # patches with a grid per image (Qwen-VL)
        assert batch.inputs["image_grid_thw"].tolist() == [[1, 8, 8]] * n_images
    out = loaded.model(**batch.model_inputs(with_labels=True))
    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("family", FAMILIES)
def test_batches_carry_exactly_the_adapters_inputs_in_their_layout(family, load_zoo, samples):
    """What collation keeps is what the adapter declares: per-token inputs padded to the
    batch's width, per-image inputs present; image tokens lie inside the attention mask."""
    loaded = load_zoo(family, "student")
    adapter = loaded.adapter
    train = collate_train(samples, loaded)
    generation = collate_generation(loaded, [s.images for s in samples], [s.question for s in samples], ids=["a", "b", "c"])
    for batch in (train, generation):
        assert set(batch.inputs) == set(adapter.token_input_keys) | set(adapter.image_input_keys), batch.padding_side
        for key in adapter.token_input_keys:
            assert batch.inputs[key].shape == batch.input_ids.shape, f"{key} ({batch.padding_side})"
        for key in adapter.image_input_keys:
            assert batch.inputs[key].shape[0] > 0, key
        assert batch.image_mask.shape == batch.input_ids.shape
        assert not (batch.image_mask & ~batch.attention_mask.bool()).any(), "an image token outside the attention mask"
        assert torch.equal(batch.image_mask.sum(1), train.image_mask.sum(1)), "image tokens differ between the layouts"


def test_collator_is_a_dataloader_collate_fn(load_zoo, samples):
    loaded = load_zoo("internvl3", "student")
    loader = torch.utils.data.DataLoader(samples, batch_size=2, collate_fn=Collator(loaded))
    batches = list(loader)
    assert [len(b) for b in batches] == [2, 1]


def test_bad_inputs_name_the_sample(load_zoo, image_paths, tmp_path):
    loaded = load_zoo("qwen2_5_vl", "student")
    missing = TrainSample("x7", (str(tmp_path / "gone.png"),), "Q?", "A.", "planning")
    with pytest.raises(CollateError, match=r"x7: image '.*gone.png' does not exist"):
        collate_train([missing], loaded)
    bad = TrainSample("x8", (image_paths[0],), "Q?", "A.", "plannning")
    with pytest.raises(CollateError, match=r"x8: capability 'plannning'"):
        collate_train([bad], loaded)


def test_text_only_sample_has_no_image_tokens(load_zoo, samples):
    loaded = load_zoo("internvl3", "student")
    text_only = TrainSample("t", (), "Hello?", "Hi.", "reasoning")
    batch = collate_train([text_only, samples[1]], loaded)
    assert int(batch.image_mask[0].sum()) == 0 and int(batch.image_mask[1].sum()) == 16
    assert torch.isfinite(loaded.model(**batch.model_inputs(with_labels=True)).loss)
