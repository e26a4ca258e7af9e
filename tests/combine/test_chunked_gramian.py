"""The chunked Gramian equals a float64 Gramian of the whole flattened gradients."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.combine.gradients import add_combination, blockwise_gramian


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    chunk=st.integers(1, 17),
    missing=st.integers(0, 15),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]),
)
def test_chunked_gramian_matches_numpy_float64(k, sizes, chunk, missing, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    params = [torch.zeros(n, dtype=dtype) for n in sizes]
    grads = [[torch.randn(n, generator=g).to(dtype) for n in sizes] for _ in range(k)]
    for i in range(k):  # some objectives do not reach some parameters (None), as in a real model
        for p in range(len(sizes)):
            if (missing >> ((i + p) % 4)) & 1 and (i, p) != (0, 0):
                grads[i][p] = None
    flat = np.stack([
        np.concatenate([np.zeros(n) if t is None else t.double().numpy() for t, n in zip(row, sizes)]) for row in grads
    ])
    got = blockwise_gramian(grads, params, chunk=chunk)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), flat @ flat.T, rtol=1e-12, atol=1e-12)


def test_release_drops_each_gradient_after_it_is_added():
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    grads = [[torch.ones(3), torch.ones(2)], [torch.full((3,), 2.0), None]]
    add_combination(grads, params, torch.tensor([1.0, 0.5], dtype=torch.float64), release=True)
    assert all(g is None for row in grads for g in row)
    assert params[0].grad.tolist() == [2.0, 2.0, 2.0] and params[1].grad.tolist() == [1.0, 1.0]
