"""Qwen2.5-VL family adapter (Qwen2_5_VLForConditionalGeneration).

Qwen2.5-VL uses a window-attention ViT with 2×2 patch merging and a Qwen2.5
language model with 3D (multimodal) rotary positions, which is why its forward
pass needs ``mm_token_type_ids`` next to ``image_grid_thw``. A 448×448 image is a
32×32 grid of 14-px patches → 256 ``<|image_pad|>`` tokens between
``<|vision_start|>`` and ``<|vision_end|>``. Architecture figures follow the
published ``Qwen/Qwen2.5-VL-*-Instruct`` configs so ``init: random`` builds real shapes.
"""

from __future__ import annotations

import math

from harness.models.base import FamilyAdapter, LazyClass, Scale
from harness.models.tokenizer import offline_hf_tokenizer
from harness.registry import FAMILIES


def _vit(hidden=1280, depth=32, heads=16, inter=3420, patch=14, window=112, full=(7, 15, 23, 31), side=448):
    return dict(hidden_size=hidden, depth=depth, num_heads=heads, intermediate_size=inter, patch_size=patch,
                spatial_merge_size=2, temporal_patch_size=2, window_size=window, fullatt_block_indexes=list(full),
                image_side=side)


def _text(hidden, layers, heads, kv, inter, vocab, mrope=(16, 24, 24)):
    return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                intermediate_size=inter, vocab_size=vocab, max_position_embeddings=128000,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": list(mrope)})


SCALES: dict[str, Scale] = {
    "3b": Scale("Qwen/Qwen2.5-VL-3B-Instruct", _text(2048, 36, 16, 2, 11008, 151936), _vit(), {"tie_word_embeddings": True}),
    "7b": Scale("Qwen/Qwen2.5-VL-7B-Instruct", _text(3584, 28, 28, 4, 18944, 152064), _vit(), {"tie_word_embeddings": False}),
    "32b": Scale("Qwen/Qwen2.5-VL-32B-Instruct", _text(5120, 64, 40, 8, 27648, 152064), _vit(inter=3456), {"tie_word_embeddings": False}),
    "72b": Scale("Qwen/Qwen2.5-VL-72B-Instruct", _text(8192, 80, 64, 8, 29568, 152064), _vit(inter=3456), {"tie_word_embeddings": False}),
}

# Tiny zoo: 56×56 images, 7-px patches, 2×2 merge → 16 image tokens per image.
# head_dim is 16 in every size, so the 3D rotary sections are (2, 3, 3).
_TINY_VIT = _vit(hidden=32, depth=1, heads=2, inter=64, patch=7, window=28, full=(0,), side=56)
ZOO_SCALES: dict[str, Scale] = {
    "student": Scale("zoo/student", _text(64, 4, 4, 2, 128, 0, mrope=(2, 3, 3)), _TINY_VIT, {"tie_word_embeddings": True}),
    "teacher_s": Scale("zoo/teacher_s", _text(96, 6, 6, 2, 192, 0, mrope=(2, 3, 3)), _TINY_VIT, {"tie_word_embeddings": False}),
    "teacher_l": Scale("zoo/teacher_l", _text(128, 8, 8, 4, 256, 0, mrope=(2, 3, 3)), _TINY_VIT, {"tie_word_embeddings": False}),
}

SPECIAL_TOKENS = {
    "vision_start_token": "<|vision_start|>",
    "vision_end_token": "<|vision_end|>",
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
}

# Same structure as the Qwen2.5-VL template: default system turn, each image as
# <|vision_start|><|image_pad|><|vision_end|> (the processor expands the pad).
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}{%- endif -%}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@FAMILIES.register("qwen2_5_vl")
class Qwen2_5_VLAdapter(FamilyAdapter):
    """Qwen2.5-VL (Qwen2_5_VLForConditionalGeneration): 3b, 7b, 32b, 72b."""

    scales = SCALES
    zoo_scales = ZOO_SCALES
    model_class = LazyClass("transformers:Qwen2_5_VLForConditionalGeneration")
    processor_class = LazyClass("harness.models.qwen_vl:ImageOnlyQwen2_5_VLProcessor")
    token_input_keys = ("input_ids", "attention_mask", "mm_token_type_ids")
    image_input_keys = ("pixel_values", "image_grid_thw")
    # What a Qwen-VL descendant (qwen3_vl) changes: its config class, template and tokens.
    config_class = LazyClass("transformers:Qwen2_5_VLConfig")
    chat_template = CHAT_TEMPLATE
    special_tokens = SPECIAL_TOKENS

    def vision_config(self, scale: Scale, text: dict) -> dict:
        """The vision config's keyword arguments (Qwen2.5-VL's merger projects to the text width)."""
        vision = {k: v for k, v in scale.vision.items() if k != "image_side"}
        vision["out_hidden_size"] = text["hidden_size"]
        return vision

    def offline_processor(self, *, scale: Scale):
        from transformers import Qwen2VLImageProcessorPil

        vision = dict(scale.vision)
        side = vision["image_side"]
        tokenizer = offline_hf_tokenizer(self.special_tokens, chat_template=self.chat_template)
        # min = max pixels pins a square side×side input to exactly side×side.
        image_processor = Qwen2VLImageProcessorPil(
            patch_size=vision["patch_size"], merge_size=vision["spatial_merge_size"],
            temporal_patch_size=vision["temporal_patch_size"],
            size={"shortest_edge": side * side, "longest_edge": side * side},
        )
        return self.processor_class(image_processor, tokenizer, chat_template=self.chat_template)

    def build_config(self, scale: Scale, processor):
        tok = processor.tokenizer
        text = dict(scale.text)
        text["vocab_size"] = max(text.get("vocab_size") or 0, ((len(tok) + 63) // 64) * 64)
        text.update(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
        return self.config_class(
            text_config=text,
            vision_config=self.vision_config(scale, text),
            image_token_id=tok.image_token_id,
            video_token_id=tok.video_token_id,
            vision_start_token_id=tok.vision_start_token_id,
            vision_end_token_id=tok.vision_end_token_id,
            **dict(scale.top),
        )

    def image_side_of(self, config, processor) -> int:
        size = getattr(processor.image_processor, "size", None) or {}
        lo, hi = _get(size, "shortest_edge"), _get(size, "longest_edge")
        if lo and hi and lo == hi and math.isqrt(int(hi)) ** 2 == int(hi):
            return math.isqrt(int(hi))
        return self.default_image_side

    def image_token_ids(self, config) -> tuple[int, ...]:
        return (int(config.image_token_id),)

    def image_token_grids(self, config, inputs) -> list[tuple[int, int]]:
        """Each image's patch grid (``image_grid_thw``: frames, rows, columns) after the
        ``spatial_merge_size`` merge; the processor orders patches so merged tokens are row-major."""
        merge = int(config.vision_config.spatial_merge_size)
        grids = []
        for t, h, w in inputs["image_grid_thw"].tolist():
            if int(t) != 1:
                raise ValueError(f"{self.name}: image_token_grids covers still images (grid t=1), got t={t}")
            grids.append((int(h) // merge, int(w) // merge))
        return grids


def _get(size, key):
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def image_only_processor(base: type, name: str, module: str) -> type:
    """A Qwen-VL processor class without the video processor (which needs torchvision).

    Qwen2.5-VL's and Qwen3-VL's processors take (image, tokenizer, video) processors
    alike, so both families define their subclass through this one function.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return type(name, (base,), {"__init__": __init__, "__module__": module,
                                "__doc__": f"{base.__name__} without a video processor (which needs torchvision)."})


_PROCESSOR = None


def __getattr__(name: str):
    """``ImageOnlyQwen2_5_VLProcessor``, defined on first use (so registering the family imports no transformers)."""
    global _PROCESSOR
    if name != "ImageOnlyQwen2_5_VLProcessor":
        raise AttributeError(name)
    if _PROCESSOR is None:
        from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor

        _PROCESSOR = image_only_processor(Qwen2_5_VLProcessor, name, __name__)
    return _PROCESSOR
