"""The head-mean attention map softmax(QKᵀ·scale + mask) averaged over heads, without per-head storage.

Autograd would keep each captured layer's per-head probabilities [B, H, S, S] for
backward: at InternVL3-1B's shape (14 heads, S ≈ 1,927, 23 captured layers) that is
about 5 GB in float32, far more than the maps themselves. This function keeps only
the queries, keys and the mask the layer received, builds the mean map one head at
a time, and recomputes each head's probabilities in backward, where the softmax
gradient is formed head by head:

    dS_h = P_h ⊙ (G/H − rowsum(G/H ⊙ P_h)),   dQ_h = dS_h K_h · scale,   dK_h = dS_hᵀ Q_h · scale

for the incoming gradient G of the mean map. Peak extra memory is one [B, S, S]
map per head at a time; each backward pass that reaches the map recomputes QKᵀ
once (cheap beside a 1B model's forward at these lengths). Where a layer's
per-head probabilities are small (at most :data:`KEEP_BYTES`: the tiny zoo, or
short sequences) they are kept instead, since there the recomputation would cost
more time than the memory is worth.
"""

from __future__ import annotations

import torch

from harness.models.attention import additive_mask  # noqa: F401  (the one copy; tests import it here)

KEEP_BYTES = 32 << 20  # per layer: keep per-head probabilities for backward up to this size


def _head_probabilities(query: torch.Tensor, key: torch.Tensor, h: int, scale: float, mask: torch.Tensor) -> torch.Tensor:
    scores = torch.matmul(query[:, h], key[:, h].transpose(-1, -2)) * scale
    return torch.softmax(scores + mask[:, 0], dim=-1)


class _HeadMeanAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, scale, mask):
        batch, heads, q_len, _ = query.shape
        additive = additive_mask(mask, batch, q_len, key.shape[2], query.device, query.dtype)
        out = torch.zeros(batch, q_len, key.shape[2], dtype=query.dtype, device=query.device)
        keep = out.numel() * heads * out.element_size() <= KEEP_BYTES
        kept = []
        for h in range(heads):
            probs = _head_probabilities(query, key, h, scale, additive)
            out += probs
            if keep:
                kept.append(probs)
        out /= heads
        ctx.scale = scale
        ctx.mask = mask  # the layer's own mask object (shared by every layer), not a copy
        ctx.save_for_backward(query, key, *kept)
        return out

    @staticmethod
    def backward(ctx, grad):
        query, key, *kept = ctx.saved_tensors
        batch, heads, q_len, _ = query.shape
        additive = additive_mask(ctx.mask, batch, q_len, key.shape[2], query.device, query.dtype)
        grad = grad.to(query.dtype) / heads
        d_query = torch.empty_like(query) if ctx.needs_input_grad[0] else None
        d_key = torch.empty_like(key) if ctx.needs_input_grad[1] else None
        for h in range(heads):
            probs = kept[h] if kept else _head_probabilities(query, key, h, ctx.scale, additive)
            d_scores = probs * (grad - (grad * probs).sum(dim=-1, keepdim=True))
            del probs
            if d_query is not None:
                d_query[:, h] = torch.matmul(d_scores, key[:, h]) * ctx.scale
            if d_key is not None:
                d_key[:, h] = torch.matmul(d_scores.transpose(-1, -2), query[:, h]) * ctx.scale
        return d_query, d_key, None, None


def head_mean_attention(query: torch.Tensor, key: torch.Tensor, scale: float, mask) -> torch.Tensor:
    """mean over heads of softmax(query·keyᵀ·scale + mask): [B, q, k] from query/key [B, H, S, D].

    ``key`` already has one head per query head (grouped-query repetition done);
    ``mask`` is what the layer received (None, boolean or additive, see :func:`additive_mask`).
    """
    return _HeadMeanAttention.apply(query, key, float(scale), mask)
