"""InternVL3 family adapter (the transformers-native ``-hf`` checkpoints).

InternVL3 pairs an InternViT vision tower (300M for 1B-14B, 6B for 38B/78B) with a
Qwen2/Qwen2.5 language model through pixel shuffle (0.5) and an MLP projector.
Each 448×448 tile becomes 256 ``<IMG_CONTEXT>`` tokens wrapped in ``<img>…</img>``.
The architecture figures below follow the published ``config.json`` of each
``OpenGVLab/InternVL3-*-hf`` checkpoint so ``init: random`` builds the real shapes.
"""

from __future__ import annotations

from harness.models.base import FamilyAdapter, LazyClass, Scale
from harness.models.tokenizer import offline_hf_tokenizer
from harness.registry import FAMILIES

# InternViT-300M (InternVL3 1B…14B) and InternViT-6B (38B, 78B).
_VIT_300M = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                 image_size=448, patch_size=14, norm_type="layer_norm", use_qk_norm=False)
_VIT_6B = dict(hidden_size=3200, num_hidden_layers=45, num_attention_heads=25, intermediate_size=12800,
               image_size=448, patch_size=14, norm_type="rms_norm", use_qk_norm=True)


def _qwen2(hidden, layers, heads, kv, inter, vocab=151674, theta=1_000_000.0):
    return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                intermediate_size=inter, vocab_size=vocab, max_position_embeddings=32768,
                rope_parameters={"rope_type": "default", "rope_theta": theta})


SCALES: dict[str, Scale] = {
    "1b": Scale("OpenGVLab/InternVL3-1B-hf", _qwen2(896, 24, 14, 2, 4864), _VIT_300M, {"tie_word_embeddings": False}),
    "2b": Scale("OpenGVLab/InternVL3-2B-hf", _qwen2(1536, 28, 12, 2, 8960), _VIT_300M, {"tie_word_embeddings": False}),
    "8b": Scale("OpenGVLab/InternVL3-8B-hf", _qwen2(3584, 28, 28, 4, 18944), _VIT_300M, {"tie_word_embeddings": False}),
    "14b": Scale("OpenGVLab/InternVL3-14B-hf", _qwen2(5120, 48, 40, 8, 13824), _VIT_300M, {"tie_word_embeddings": False}),
    "38b": Scale("OpenGVLab/InternVL3-38B-hf", _qwen2(5120, 64, 40, 8, 27648), _VIT_6B, {"tie_word_embeddings": False}),
    "78b": Scale("OpenGVLab/InternVL3-78B-hf", _qwen2(8192, 80, 64, 8, 29568), _VIT_6B, {"tie_word_embeddings": False}),
}

# Tiny zoo: 56×56 images, 7-px patches → 8×8 patches → pixel shuffle → 16 image
# tokens per image. Sizes differ in depth, width and head count; the vision
# tower is shared in shape so image-token layout is identical across sizes.
_TINY_VIT = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                 image_size=56, patch_size=7, norm_type="layer_norm", use_qk_norm=False)
ZOO_SCALES: dict[str, Scale] = {
    "student": Scale("zoo/student", _qwen2(64, 4, 4, 2, 128, vocab=0), _TINY_VIT, {"tie_word_embeddings": True}),
    "teacher_s": Scale("zoo/teacher_s", _qwen2(96, 6, 6, 2, 192, vocab=0), _TINY_VIT, {"tie_word_embeddings": False}),
    "teacher_l": Scale("zoo/teacher_l", _qwen2(128, 8, 8, 4, 256, vocab=0), _TINY_VIT, {"tie_word_embeddings": False}),
}

SPECIAL_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}

# Same structure as the InternVL3-hf template (Qwen im_start turns; one
# <IMG_CONTEXT> placeholder per image that the processor expands to
# <img> + N × <IMG_CONTEXT> + </img>), without the long default system prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '<IMG_CONTEXT>\\n' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _image_seq_length(vision: dict, downsample_ratio: float = 0.5) -> int:
    per_side = vision["image_size"] // vision["patch_size"]
    return int(per_side * per_side * downsample_ratio * downsample_ratio)


@FAMILIES.register("internvl3")
class InternVL3Adapter(FamilyAdapter):
    """InternVL3 (-hf checkpoints, InternVLForConditionalGeneration): 1b, 2b, 8b, 14b, 38b, 78b."""

    scales = SCALES
    zoo_scales = ZOO_SCALES
    model_class = LazyClass("transformers:InternVLForConditionalGeneration")
    processor_class = LazyClass("harness.models.internvl:ImageOnlyInternVLProcessor")

    def check_folder(self, folder: str) -> None:
        from harness.models.base import ModelLoadError
        from harness.models.convert_internvl import is_remote_code_internvl, refusal

        if is_remote_code_internvl(folder):
            raise ModelLoadError(refusal(folder))

    def offline_processor(self, *, scale: Scale):
        from transformers import GotOcr2ImageProcessorPil

        vision = dict(scale.vision)
        tokenizer = offline_hf_tokenizer(SPECIAL_TOKENS, chat_template=CHAT_TEMPLATE)
        image_processor = GotOcr2ImageProcessorPil(size={"height": vision["image_size"], "width": vision["image_size"]},
                                                   crop_to_patches=False)
        return self.processor_class(image_processor, tokenizer, image_seq_length=_image_seq_length(vision),
                                          chat_template=CHAT_TEMPLATE)

    def build_config(self, scale: Scale, processor):
        from transformers import InternVLConfig

        tok = processor.tokenizer
        text = dict(scale.text, model_type="qwen2")
        text["vocab_size"] = max(text.get("vocab_size") or 0, _round_up(len(tok), 64))
        text.update(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
        return InternVLConfig(
            vision_config=dict(scale.vision),
            text_config=text,
            image_token_id=tok.context_image_token_id,
            image_seq_length=_image_seq_length(dict(scale.vision)),
            downsample_ratio=0.5,
            **dict(scale.top),
        )

    def image_side_of(self, config, processor) -> int:
        return int(config.vision_config.image_size[0])

    def image_token_ids(self, config) -> tuple[int, ...]:
        return (int(config.image_token_id),)

    def image_token_grids(self, config, inputs) -> list[tuple[int, int]]:
        """One tile per image: the ViT's patch grid shrunk by pixel shuffle (``downsample_ratio``); the
        model's ``pixel_shuffle`` keeps the patches' row-major order, 2×2 neighbours per token."""
        vision = config.vision_config
        size, patch = _pair(vision.image_size), _pair(vision.patch_size)
        ratio = float(config.downsample_ratio)
        grid = (int(size[0] // patch[0] * ratio), int(size[1] // patch[1] * ratio))
        return [grid] * int(inputs["pixel_values"].shape[0])


def _pair(value) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))


def _round_up(n: int, multiple: int) -> int:
    return ((n + multiple - 1) // multiple) * multiple


_PROCESSOR = None


def __getattr__(name: str):
    """``ImageOnlyInternVLProcessor``, defined on first use (so registering the family imports no transformers)."""
    global _PROCESSOR
    if name != "ImageOnlyInternVLProcessor":
        raise AttributeError(name)
    if _PROCESSOR is None:
        from transformers.models.internvl.processing_internvl import InternVLProcessor

        class ImageOnlyInternVLProcessor(InternVLProcessor):
            """InternVL processor without a video processor; one image tile per image (as Drive-KD feeds)."""

            images_kwargs = {"crop_to_patches": False}

            def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None,
                         **kwargs):
                # The base takes video_processor third; ProcessorMixin zips the arguments against
                # get_attributes() (image_processor, tokenizer) and the trailing None is dropped.
                super().__init__(image_processor, tokenizer, None, image_seq_length=image_seq_length,
                                 chat_template=chat_template, **kwargs)

        ImageOnlyInternVLProcessor.__module__ = __name__
        _PROCESSOR = ImageOnlyInternVLProcessor
    return _PROCESSOR
