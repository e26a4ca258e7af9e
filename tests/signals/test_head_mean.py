"""The lean head-mean attention equals autograd through per-head softmax, in values and gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.signals.head_mean import additive_mask, head_mean_attention


def plain(query, key, scale, mask):
    scores = query @ key.transpose(-1, -2) * scale
    scores = scores + additive_mask(mask, query.shape[0], query.shape[2], key.shape[2], query.device, query.dtype)
    return torch.softmax(scores, dim=-1).mean(dim=1)


def masks(kind: str, batch: int, seq: int, g: torch.Generator):
    if kind == "none":
        return None
    lengths = torch.randint(1, seq + 1, (batch,), generator=g)
    keep = torch.arange(seq)[None, :] < lengths[:, None]
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()
    boolean = causal[None, None] & keep[:, None, None, :]
    if kind == "bool":
        return boolean
    return torch.where(boolean, 0.0, torch.finfo(torch.float32).min)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), heads=st.integers(1, 4), seq=st.integers(1, 9), dim=st.integers(1, 6),
       kind=st.sampled_from(["none", "bool", "additive"]), seed=st.integers(0, 2**16), keep=st.booleans())
def test_values_and_gradients_match_autograd(batch, heads, seq, dim, kind, seed, keep):
    """Both backward paths: probabilities kept (small layers) and recomputed (large ones)."""
    import harness.signals.head_mean as head_mean

    previous, head_mean.KEEP_BYTES = head_mean.KEEP_BYTES, (1 << 40 if keep else 0)
    try:
        check(batch, heads, seq, dim, kind, seed)
    finally:
        head_mean.KEEP_BYTES = previous


def check(batch, heads, seq, dim, kind, seed):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, heads, seq, dim, generator=g, dtype=torch.float64, requires_grad=True)
    key = torch.randn(batch, heads, seq, dim, generator=g, dtype=torch.float64, requires_grad=True)
    mask = masks(kind, batch, seq, g)
    weight = torch.randn(batch, seq, seq, generator=g, dtype=torch.float64)
    lean = head_mean_attention(query, key, 0.7, mask)
    reference = plain(query, key, 0.7, mask)
    torch.testing.assert_close(lean, reference)
    got = torch.autograd.grad((lean * weight).sum(), (query, key))
    want = torch.autograd.grad((reference * weight).sum(), (query, key))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_passes_gradcheck():
    g = torch.Generator().manual_seed(0)
    query = torch.randn(1, 2, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    key = torch.randn(1, 2, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: head_mean_attention(q, k, 0.5, None), (query, key))


@pytest.mark.parametrize("heads", [2, 6])
def test_keeps_no_per_head_map_for_backward(heads, monkeypatch):
    """Above the keep size, what autograd saves is queries and keys, not [B, H, S, S] probabilities."""
    import harness.signals.head_mean as head_mean

    monkeypatch.setattr(head_mean, "KEEP_BYTES", 0)
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    seq, dim = 64, 4
    query = torch.randn(1, heads, seq, dim, requires_grad=True)
    key = torch.randn(1, heads, seq, dim, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        head_mean_attention(query, key, 0.5, None)
    assert saved and max(saved) <= heads * seq * dim < heads * seq * seq
