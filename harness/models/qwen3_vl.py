"""Qwen3-VL family adapter (Qwen3VLForConditionalGeneration), dense scales 2B, 4B, 8B.

Qwen3-VL pairs a ViT with 16-px patches and 2×2 merging (a 448×448 image is a
28×28 patch grid → 196 ``<|image_pad|>`` tokens) whose intermediate layers are
also fed into the first decoder layers ("DeepStack"), with a Qwen3 language model
whose attention normalises each head's queries and keys (``q_norm``/``k_norm``,
RMSNorm) before the interleaved multimodal rotary. That norm is why this family
recomputes its queries and keys itself (:meth:`query_key`): the
Qwen2-style default would skip it and give wrong maps. Inputs are those of
Qwen2.5-VL (``mm_token_type_ids`` beside ``image_grid_thw``).

Architecture figures of the scales follow the published ``Qwen/Qwen3-VL-*-Instruct``
configs (2B and 8B as in torchtitan's Qwen3-VL table, 4B as in the checkpoint's
config.json), so ``init: random`` builds real shapes. Everything this family knows
lives in this file, its processor subclass included; what it shares with Qwen2.5-VL
(processor inputs, image-size rule, special tokens) it inherits from that adapter.
"""

from __future__ import annotations

from harness.models.attention import query_key
from harness.models.base import LazyClass, Scale
from harness.models.qwen_vl import SPECIAL_TOKENS, Qwen2_5_VLAdapter, image_only_processor
from harness.registry import FAMILIES


def _vit(hidden, depth, inter, out, deepstack, heads=16, patch=16, positions=2304, side=448):
    return dict(hidden_size=hidden, depth=depth, num_heads=heads, intermediate_size=inter, patch_size=patch,
                spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=out, num_position_embeddings=positions,
                deepstack_visual_indexes=list(deepstack), image_side=side)


def _text(hidden, layers, heads, kv, inter, vocab, head_dim=128, mrope=(24, 20, 20)):
    return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                head_dim=head_dim, intermediate_size=inter, vocab_size=vocab, max_position_embeddings=262144,
                rope_parameters={"rope_type": "default", "rope_theta": 5_000_000.0, "mrope_section": list(mrope),
                                 "mrope_interleaved": True})


SCALES: dict[str, Scale] = {
    "2b": Scale("Qwen/Qwen3-VL-2B-Instruct", _text(2048, 28, 16, 8, 6144, 151936),
                _vit(1024, 24, 4096, 2048, (5, 11, 17)), {"tie_word_embeddings": True}),
    "4b": Scale("Qwen/Qwen3-VL-4B-Instruct", _text(2560, 36, 32, 8, 9728, 151936),
                _vit(1024, 24, 4096, 2560, (5, 11, 17)), {"tie_word_embeddings": True}),
    "8b": Scale("Qwen/Qwen3-VL-8B-Instruct", _text(4096, 36, 32, 8, 12288, 151936),
                _vit(1152, 27, 4304, 4096, (8, 16, 24)), {"tie_word_embeddings": False}),
}

# Tiny zoo: 56×56 images, 7-px patches (an 8×8 grid, so 64 position embeddings), 2×2 merge
# → 16 image tokens per image; head_dim 16, so the rotary sections are (2, 3, 3); one
# DeepStack level from the single ViT layer.
def _tiny_vit(out):
    return _vit(32, 1, 64, out, (0,), heads=2, patch=7, positions=64, side=56)


ZOO_SCALES: dict[str, Scale] = {
    "student": Scale("zoo/student", _text(64, 4, 4, 2, 128, 0, head_dim=16, mrope=(2, 3, 3)), _tiny_vit(64),
                     {"tie_word_embeddings": True}),
    "teacher_s": Scale("zoo/teacher_s", _text(96, 6, 6, 2, 192, 0, head_dim=16, mrope=(2, 3, 3)), _tiny_vit(96),
                       {"tie_word_embeddings": False}),
    "teacher_l": Scale("zoo/teacher_l", _text(128, 8, 8, 4, 256, 0, head_dim=16, mrope=(2, 3, 3)), _tiny_vit(128),
                       {"tie_word_embeddings": False}),
}

# The structure of the Qwen3-VL template (no default system turn; each image as
# <|vision_start|><|image_pad|><|vision_end|>, which the processor expands).
CHAT_TEMPLATE = (
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


@FAMILIES.register("qwen3_vl")
class Qwen3VLAdapter(Qwen2_5_VLAdapter):
    """Qwen3-VL (Qwen3VLForConditionalGeneration), dense: 2b, 4b, 8b.

    Its processor, inputs and image-size rule are Qwen2.5-VL's, so the adapter inherits
    them; what differs is said here: the classes, the template, the vision config and
    the queries and keys.
    """

    scales = SCALES
    zoo_scales = ZOO_SCALES
    model_class = LazyClass("transformers:Qwen3VLForConditionalGeneration")
    processor_class = LazyClass("harness.models.qwen3_vl:ImageOnlyQwen3VLProcessor")
    config_class = LazyClass("transformers:Qwen3VLConfig")
    chat_template = CHAT_TEMPLATE
    special_tokens = SPECIAL_TOKENS

    def vision_config(self, scale: Scale, text: dict) -> dict:
        """The scale's own vision figures (its ``out_hidden_size`` is part of the published config)."""
        return {k: v for k, v in scale.vision.items() if k != "image_side"}

    def query_key(self, module, hidden_states, position_embeddings):
        """Qwen3's attention: per-head RMSNorm of queries and keys before the rotary."""
        return query_key(module, hidden_states, position_embeddings, q_norm=module.q_norm, k_norm=module.k_norm)


_PROCESSOR = None


def __getattr__(name: str):
    """``ImageOnlyQwen3VLProcessor``, defined on first use (so registering the family imports no transformers)."""
    global _PROCESSOR
    if name != "ImageOnlyQwen3VLProcessor":
        raise AttributeError(name)
    if _PROCESSOR is None:
        from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

        _PROCESSOR = image_only_processor(Qwen3VLProcessor, name, __name__)
    return _PROCESSOR
