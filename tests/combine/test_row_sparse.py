"""Embedding-table gradients kept as rows give the same Gramian and the same update as dense ones."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.combine import build_combiner
from harness.combine.gradients import CombinedBackward, add_combination, blockwise_gramian, per_objective_gradients
from harness.combine.row_sparse import RowSparse, add_gradients, compress, embedding_tables


def _table_gradient(rows: int, width: int, used: list[int], g: torch.Generator) -> torch.Tensor:
    out = torch.zeros(rows, width)
    out[used] = torch.randn(len(used), width, generator=g)
    return out


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 4),
    rows=st.integers(8, 40),
    width=st.integers(1, 5),
    used=st.lists(st.integers(0, 39), min_size=1, max_size=6),
    dense_objective=st.integers(-1, 3),  # this objective's table gradient is dense (a tied output head)
    missing=st.integers(0, 15),
    chunk=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_rows_give_the_dense_gramian_and_update(k, rows, width, used, dense_objective, missing, chunk, seed):
    g = torch.Generator().manual_seed(seed)
    used = sorted({u % rows for u in used})
    params = [torch.zeros(rows, width, requires_grad=True), torch.zeros(7, requires_grad=True)]
    dense_grads = []
    for i in range(k):
        table = torch.randn(rows, width, generator=g) if i == dense_objective else _table_gradient(rows, width, used, g)
        dense_grads.append([table, torch.randn(7, generator=g)])
    for i in range(k):
        if (missing >> i) & 1 and i != 0:
            dense_grads[i][0] = None
    sparse_grads = [[None if t is None else (compress(t) if p == 0 else t) for p, t in enumerate(row)]
                    for row in dense_grads]
    if dense_objective != 0 and dense_grads[0][0] is not None:
        assert isinstance(sparse_grads[0][0], RowSparse) or len(used) > rows // 4

    flat = np.stack([np.concatenate([np.zeros(rows * width) if t is None else t.double().reshape(-1).numpy()
                                     for t in row]) for row in dense_grads])
    got = blockwise_gramian(sparse_grads, params, chunk=chunk)
    np.testing.assert_allclose(got.numpy(), flat @ flat.T, rtol=1e-12, atol=1e-12)

    weights = torch.randn(k, generator=g, dtype=torch.float64)
    add_combination(dense_grads, params, weights)
    expected = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    add_combination(sparse_grads, params, weights, release=True)
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.grad, e, rtol=1e-6, atol=1e-6)


def test_compress_keeps_only_the_rows_that_are_not_zero_and_a_dense_gradient_stays_dense():
    g = torch.Generator().manual_seed(0)
    grad = _table_gradient(100, 3, [2, 50, 97], g)
    kept = compress(grad)
    assert isinstance(kept, RowSparse) and kept.rows.tolist() == [2, 50, 97]
    assert torch.equal(kept.to_dense(), grad)
    full = torch.randn(100, 3, generator=g)
    assert compress(full) is full
    assert compress(torch.randn(5, generator=g)).dim() == 1  # a vector is never a table


def test_accumulating_rows_equals_accumulating_dense_gradients():
    g = torch.Generator().manual_seed(1)
    a, b = _table_gradient(30, 2, [1, 4], g), _table_gradient(30, 2, [4, 9, 20], g)
    both = add_gradients(compress(a), compress(b))
    assert isinstance(both, RowSparse) and both.rows.tolist() == [1, 4, 9, 20]
    torch.testing.assert_close(both.to_dense(), a + b)
    torch.testing.assert_close(add_gradients(compress(a), b), a + b)
    torch.testing.assert_close(add_gradients(a, compress(b)), a + b)


class _TinyLM(torch.nn.Module):
    """An embedding table, a layer and an output head: two objectives of different reach."""

    def __init__(self, vocab: int = 500, width: int = 8):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, width)
        self.layer = torch.nn.Linear(width, width)
        self.head = torch.nn.Linear(width, vocab)

    def losses(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.layer(self.embed(tokens))
        logits = self.head(torch.tanh(hidden))
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1))
        return {"ce": ce, "perception": hidden.pow(2).mean(), "planning": -hidden.sum() * 1e-2}


def _engine_grads(model: _TinyLM, batches: list[torch.Tensor], *, rows: bool, combine_per: str) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    engine = CombinedBackward(model, build_combiner("agp"), generator=torch.Generator().manual_seed(3),
                              combine_per=combine_per, row_sparse=embedding_tables(model) if rows else ())
    for tokens in batches:
        engine.backward(model.losses(tokens))
    engine.finish()
    return [p.grad.clone() for p in model.parameters()]


def test_the_engine_with_rows_updates_as_the_dense_engine_does():
    torch.manual_seed(0)
    model = _TinyLM()
    batches = [torch.randint(0, 500, (2, 6)), torch.randint(0, 500, (2, 6))]
    for combine_per in ("micro_batch", "step"):
        dense = _engine_grads(model, batches, rows=False, combine_per=combine_per)
        sparse = _engine_grads(model, batches, rows=True, combine_per=combine_per)
        for d, s in zip(dense, sparse):
            torch.testing.assert_close(s, d, rtol=1e-6, atol=1e-7)


def test_per_objective_table_gradients_hold_only_the_batchs_tokens():
    torch.manual_seed(0)
    model = _TinyLM()
    tokens = torch.tensor([[3, 7, 7, 42]])
    params = list(model.parameters())
    grads = per_objective_gradients(model.losses(tokens), params, row_sparse=[0])
    for row in grads:
        table = row[0]
        assert isinstance(table, RowSparse) and table.rows.tolist() == [3, 7, 42]
        assert table.values.shape == (3, 8)
    assert embedding_tables(model) == [model.embed.weight]
