"""Processor classes for both families that leave out the video processor.

The stock ``InternVLProcessor`` and ``Qwen2_5_VLProcessor`` load a video
processor that needs torchvision (which breaks transformers in this
environment) and that the harness never uses. These subclasses declare only an
image processor and a tokenizer, so ``from_pretrained`` loads the same two
sub-processors from a hub checkpoint, a local folder or the tiny zoo, and the
image processor resolves to the PIL backend when torchvision is absent.

InternVL also defaults to ``crop_to_patches=True`` (dynamic tiling); Drive-KD
feeds one tile per image, so the subclass makes a single tile the default.
"""

from __future__ import annotations

from transformers.models.internvl.processing_internvl import InternVLProcessor
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor


class ImageOnlyInternVLProcessor(InternVLProcessor):
    """InternVL processor without a video processor; one image tile per image."""

    images_kwargs = {"crop_to_patches": False}

    def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None, **kwargs):
        # The base passes video_processor positionally; ProcessorMixin zips the
        # arguments against get_attributes() (image_processor, tokenizer) and the
        # trailing None is dropped.
        super().__init__(image_processor, tokenizer, None, image_seq_length=image_seq_length, chat_template=chat_template, **kwargs)


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """Qwen2.5-VL processor without a video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)
