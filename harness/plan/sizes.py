"""Model shapes for memory planning, read from meta-device models (no weights, no download).

:func:`model_shape` builds the architecture a recipe model names on the meta device
and reduces it to the numbers :mod:`harness.plan.estimate` needs: parameter counts of
the vision side, each decoder layer, the embeddings and the output head, and the
widths that size activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

_BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on, for one model."""

    name: str
    dtype_bytes: int
    params: int  # all parameters
    vision_params: int  # everything before the decoder: vision tower, projector
    layer_params: int  # one decoder layer
    embed_params: int
    head_params: int  # 0 when tied to the embeddings
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_dim: int  # key/value heads × head size
    vocab: int
    vision_hidden: int
    vision_intermediate: int
    vision_layers: int
    vision_tokens: int  # ViT tokens per image
    image_tokens: int  # language-model tokens per image

    @property
    def weight_bytes(self) -> int:
        return self.params * self.dtype_bytes


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def _get(config, *names, default=None):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def model_shape(spec: dict[str, Any]) -> ModelShape:
    """The :class:`ModelShape` of a load spec (``{family, scale|path|zoo, dtype, …}``)."""
    from harness.models import ModelSource, get_adapter

    source = ModelSource.from_spec(spec)
    adapter = get_adapter(source.family)
    model = adapter.meta_model(source)
    layers = adapter.decoder_layers(model)
    embed, head = model.get_input_embeddings(), model.get_output_embeddings()
    total = _count(model)
    tied = head is not None and head.weight is embed.weight
    head_params = 0 if tied else _count(head)
    layer_params = _count(layers[0])
    text = getattr(model.config, "text_config", model.config)
    vision = model.config.vision_config
    side = _get(vision, "image_size", "image_side", default=448)
    side = int(side[0] if isinstance(side, (list, tuple)) else side)
    patch = _get(vision, "patch_size", default=14)
    patch = int(patch[0] if isinstance(patch, (list, tuple)) else patch)
    heads = int(text.num_attention_heads)
    head_dim = int(_get(text, "head_dim", default=text.hidden_size // heads))
    dtype = next(model.parameters()).dtype
    return ModelShape(
        name=source.describe(),
        dtype_bytes=_BYTES.get(dtype, 4),
        params=total,
        vision_params=total - layer_params * len(layers) - _count(embed) - head_params
        - sum(p.numel() for n, p in model.named_parameters() if n.endswith("language_model.norm.weight")),
        layer_params=layer_params,
        embed_params=_count(embed),
        head_params=head_params,
        layers=len(layers),
        hidden=int(text.hidden_size),
        intermediate=int(text.intermediate_size),
        heads=heads,
        kv_dim=int(text.num_key_value_heads) * head_dim,
        vocab=int(text.vocab_size),
        vision_hidden=int(vision.hidden_size),
        vision_intermediate=int(vision.intermediate_size),
        vision_layers=int(_get(vision, "num_hidden_layers", "depth")),
        vision_tokens=(side // patch) ** 2,
        image_tokens=(side // patch // 2) ** 2,
    )


def parameter_bytes(spec: dict[str, Any]) -> int:
    """The weights' bytes of a load spec (for placing teachers by size)."""
    return model_shape(spec).weight_bytes
