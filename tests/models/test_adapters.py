"""Adapter interface: image-token mask, decoder layers, chat-template prompts."""

import pytest

from harness.registry import FAMILIES as REGISTERED

FAMILIES = REGISTERED.names()  # every registered family


@pytest.mark.parametrize("family", FAMILIES)
def test_decoder_layers_and_depth(family, load_zoo):
    for size, depth in (("student", 4), ("teacher_s", 6), ("teacher_l", 8)):
        loaded = load_zoo(family, size)
        assert loaded.depth == depth == len(loaded.decoder_layers())
        assert all(hasattr(layer, "self_attn") for layer in loaded.decoder_layers())


def test_internvl_prompt_layout(load_zoo):
    loaded = load_zoo("internvl3", "student")
    text = loaded.adapter.prompt_text(loaded.processor, 2, "Where?")
    assert text == "<|im_start|>user\n<IMG_CONTEXT>\n<IMG_CONTEXT>\nWhere?<|im_end|>\n<|im_start|>assistant\n"
    full = loaded.adapter.prompt_text(loaded.processor, 2, "Where?", "Here.")
    assert full.startswith(text) and full.endswith("Here.<|im_end|>\n")


def test_qwen_prompt_layout(load_zoo):
    loaded = load_zoo("qwen2_5_vl", "student")
    text = loaded.adapter.prompt_text(loaded.processor, 1, "Where?")
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert "<|vision_start|><|image_pad|><|vision_end|>Where?<|im_end|>\n<|im_start|>assistant\n" in text


@pytest.mark.parametrize("family", FAMILIES)
def test_image_token_mask_counts_image_features_only(family, load_zoo, image_paths):
    from harness.data.collate import load_image

    loaded = load_zoo(family, "teacher_s")
    images = [load_image(p, loaded.image_side) for p in image_paths[:2]]
    text = loaded.adapter.prompt_text(loaded.processor, 2, "Q?")
    ids = loaded.processor(images=images, text=[text], return_tensors="pt")["input_ids"]
    mask = loaded.image_token_mask(ids)
    assert int(mask.sum()) == 2 * 16
    tok = loaded.tokenizer
    wrappers = ("<img>", "</img>") if family == "internvl3" else ("<|vision_start|>", "<|vision_end|>")
    for wrapper in wrappers:
        wid = tok.convert_tokens_to_ids(wrapper)
        assert int((ids == wid).sum()) == 2 and not mask[ids == wid].any()


def test_internvl_feeds_one_tile_per_image_even_if_the_checkpoint_tiles(load_zoo, zoo_cache):
    """Real -hf checkpoints ship crop_to_patches=True; Drive-KD uses one tile per image."""
    from PIL import Image

    from harness.models import load_model

    loaded = load_model({"family": "internvl3", "zoo": "student"})
    loaded.processor.image_processor.crop_to_patches = True
    wide = Image.new("RGB", (336, 56))
    text = loaded.adapter.prompt_text(loaded.processor, 1, "Q?")
    out = loaded.processor(images=[wide], text=[text], return_tensors="pt")
    assert out["pixel_values"].shape[0] == 1
    assert int(loaded.image_token_mask(out["input_ids"]).sum()) == 16
