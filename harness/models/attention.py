"""Attention probabilities of a Qwen2-style attention module, recomputed from its own parts.

The fast (sdpa) forward never materialises attention probabilities; attention
capture (:mod:`harness.signals.capture`) recomputes them for the few layers a
signal reads. Most families' language models are Qwen2-style: q/k projections,
the rotary embedding the model hands the layer (``rotate_half`` convention),
grouped-query repetition and ``module.scaling``; Qwen3-style ones also normalise
each head's queries and keys first (``q_norm``/``k_norm``). A family whose
attention differs overrides ``FamilyAdapter.attention_probabilities``.
"""

from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves of the last dimension (the RoPE convention of Qwen2/Qwen2.5-VL)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: [B, H, S, D]; cos/sin: [B, S, D] broadcast over heads.
    return x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)


def additive_mask(mask, batch: int, q_len: int, k_len: int, device, dtype) -> torch.Tensor:
    """The additive mask [B|1, 1, q, k] the eager path would add, from what the layer received.

    sdpa layers receive ``None`` (pure causal, no padding), a boolean mask (True =
    attend) or an additive float mask. Masked entries use the dtype's minimum,
    as eager attention does, so fully masked (left-padding) rows stay finite.
    """
    neg = torch.finfo(dtype).min
    zero, low = torch.zeros((), dtype=dtype, device=device), torch.full((), neg, dtype=dtype, device=device)
    if mask is None:
        causal = torch.ones(q_len, k_len, dtype=torch.bool, device=device).tril(diagonal=k_len - q_len)
        return torch.where(causal, zero, low)[None, None]
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"attention capture: unsupported attention mask type {type(mask).__name__}")
    mask = mask[..., :k_len]
    if mask.dtype == torch.bool:
        return torch.where(mask.to(device), zero, low)
    return mask.to(dtype).clamp_min(neg)


def query_key(module: nn.Module, hidden_states: torch.Tensor, position_embeddings, *,
              q_norm: nn.Module | None = None, k_norm: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary-embedded queries and keys [B, H, S, D] of one Qwen2-style attention module, keys
    repeated to the query heads. ``q_norm``/``k_norm`` (Qwen3) are applied per head before the
    rotary, as the module's own forward does. Float32 at least (float64 models stay float64), so
    bf16 students and teachers still get accurate distillation targets."""
    batch, q_len, _ = hidden_states.shape
    head_dim = module.head_dim
    query = module.q_proj(hidden_states).view(batch, q_len, -1, head_dim)
    key = module.k_proj(hidden_states).view(batch, q_len, -1, head_dim)
    if q_norm is not None:
        query = q_norm(query)
    if k_norm is not None:
        key = k_norm(key)
    dtype = torch.promote_types(query.dtype, torch.float32)
    query = query.transpose(1, 2).to(dtype)
    key = key.transpose(1, 2).to(dtype)
    cos, sin = (t.to(dtype) for t in position_embeddings)
    query = _apply_rotary(query, cos, sin)
    key = _apply_rotary(key, cos, sin)
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
    return query, key


def probabilities(query: torch.Tensor, key: torch.Tensor, scaling: float, attention_mask) -> torch.Tensor:
    """softmax(q kᵀ · scaling + mask) per head: [B, H, q, k]."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * float(scaling)
    scores = scores + additive_mask(attention_mask, query.shape[0], query.shape[2], key.shape[2], scores.device,
                                    scores.dtype)
    return torch.softmax(scores, dim=-1)


def qwen2_attention_probabilities(module: nn.Module, hidden_states: torch.Tensor, position_embeddings, attention_mask,
                                  **norms) -> torch.Tensor:
    """Per-head attention probabilities [B, H, q, k] of one Qwen2-style attention module."""
    query, key = query_key(module, hidden_states, position_embeddings, **norms)
    return probabilities(query, key, module.scaling, attention_mask)
