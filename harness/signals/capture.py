"""Attention maps of chosen decoder layers, recomputed beside a fast (sdpa) forward pass.

Asking transformers for ``output_attentions`` forces eager attention in *every*
layer and materialises B×H×S×S probabilities for all of them, although Drive-KD
reads one to a few layers. Instead the model runs with its fast attention and a
forward pre-hook on each requested layer's ``self_attn`` asks the model's family
adapter for that layer's rotary-embedded queries and keys, recomputed from the
module's own projections (``FamilyAdapter.query_key``; Qwen2-style layers by
default, :mod:`harness.models.attention`; Qwen3-VL normalises them first), with the
rotary embedding the model hands the layer (``position_embeddings``; for
Qwen2.5-VL and Qwen3-VL already the 3D multimodal rotary) and the grouped-query
repetition. Only the requested layers ever build a map, and the recomputation is
differentiable (head-mean maps through :mod:`harness.signals.head_mean`, which keeps
no per-head probabilities for backward); teachers are captured under ``no_grad``.

Maps are returned head-averaged as float32 ``[batch, query, key]``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch

from harness.errors import HarnessError
from harness.models.attention import qwen2_attention_probabilities as attention_probabilities  # noqa: F401
from harness.signals.head_mean import head_mean_attention


def _keep(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


class AttentionCapture:
    """Hooks on the requested decoder layers that store their head-mean attention maps.

    Use as a context manager around one forward pass::

        with AttentionCapture(loaded, layers=[0, 22], grad=True) as cap:
            out = loaded.model(**batch.model_inputs())
        maps = cap.maps            # {layer index: [B, S, S] float32}

    ``grad=False`` (teachers) recomputes under ``no_grad``. ``heads="mean"``
    averages heads (student and teacher head counts may differ); ``"none"``
    keeps [B, H, S, S]. ``calls`` counts recomputations per layer (tests use it to
    show unrequested layers never build a map).
    """

    def __init__(self, loaded, layers: Iterable[int], *, grad: bool = True, heads: str = "mean"):
        if heads not in ("mean", "none"):
            raise HarnessError(f"attention capture: heads '{heads}' is not one of mean, none")
        decoder = loaded.decoder_layers()
        self.name = getattr(loaded, "name", "model")
        self._adapter = loaded.adapter
        self.layers = sorted(set(int(i) for i in layers))
        for i in self.layers:
            if not 0 <= i < len(decoder):
                raise HarnessError(f"attention capture: layer {i} is out of range for {self.name} with {len(decoder)} layers")
        self._modules = {i: decoder[i].self_attn for i in self.layers}
        self.grad = grad
        self.heads = heads
        self.maps: dict[int, torch.Tensor] = {}
        self.calls: dict[int, int] = {i: 0 for i in self.layers}
        self._handles: list = []

    def _hook(self, layer: int):
        def hook(module, args, kwargs):
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            cache = kwargs.get("past_key_values", kwargs.get("cache"))
            if cache is not None and cache.get_seq_length(module.layer_idx) > 0:
                raise HarnessError(f"attention capture on {self.name}: run the forward pass without a filled KV cache")
            # Identity saved-tensor hooks keep this graph's tensors out of gradient checkpointing's
            # discard-and-recompute (the capture is not re-run when a checkpointed layer recomputes).
            with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()), \
                    torch.autograd.graph.saved_tensors_hooks(_keep, _keep):
                position, mask = kwargs["position_embeddings"], kwargs.get("attention_mask")
                if self.heads == "mean":
                    query, key = self._adapter.query_key(module, hidden, position)
                    self.maps[layer] = head_mean_attention(query, key, module.scaling, mask)
                else:
                    self.maps[layer] = self._adapter.attention_probabilities(module, hidden, position, mask)
            self.calls[layer] += 1
            return None

        return hook

    def __enter__(self) -> "AttentionCapture":
        self.maps = {}
        for i, module in self._modules.items():
            self._handles.append(module.register_forward_pre_hook(self._hook(i), with_kwargs=True))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@contextmanager
def capture_attention(loaded, layers: Iterable[int], *, grad: bool = True, heads: str = "mean") -> Iterator[AttentionCapture]:
    """Functional form of :class:`AttentionCapture`."""
    with AttentionCapture(loaded, layers, grad=grad, heads=heads) as cap:
        yield cap
