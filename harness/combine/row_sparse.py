"""Per-objective gradients of embedding tables, kept as the rows that are not zero.

An embedding table's gradient is zero outside the rows of the tokens in the batch:
at InternVL3-1B a table has 151,674 rows and a micro-batch touches a few hundred.
The K per-objective gradients of a Gramian combiner each held the whole table
(K × 0.54 GB at 1B, K × 2.2 GB at 8B); a :class:`RowSparse` holds only the rows
that are not zero, so the K copies cost what the batch's tokens cost. Nothing is
approximated: the rows left out are exactly zero, the Gramian's entries are the same
dot products and the combination adds the same values to ``.grad``.

A table whose gradient is dense (one tied to the output head: the CE gradient then
reaches every row) stays dense: :func:`compress` keeps a gradient as rows only when
at most a quarter of its rows are not zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor

MOST_ROWS = 0.25  # a gradient with more non-zero rows than this share stays dense


@dataclass
class RowSparse:
    """A gradient that is zero outside ``rows``: ``values[i]`` is row ``rows[i]`` (rows unique, sorted)."""

    rows: Tensor  # int64 [R]
    values: Tensor  # [R, *shape[1:]]
    shape: torch.Size

    @property
    def device(self) -> torch.device:
        return self.values.device

    def to_dense(self) -> Tensor:
        out = torch.zeros(self.shape, dtype=self.values.dtype, device=self.values.device)
        out.index_copy_(0, self.rows, self.values)
        return out


Gradient = Tensor | RowSparse


def add_gradients(a: Gradient, b: Gradient) -> Gradient:
    """The sum of two gradients of one parameter (micro-batch accumulation); rows stay rows."""
    if isinstance(a, RowSparse) and isinstance(b, RowSparse):
        rows = torch.unique(torch.cat([a.rows, b.rows]))
        values = torch.zeros((len(rows), *a.shape[1:]), dtype=a.values.dtype, device=a.values.device)
        values.index_add_(0, torch.searchsorted(rows, a.rows), a.values)
        values.index_add_(0, torch.searchsorted(rows, b.rows), b.values.to(a.values.dtype))
        return RowSparse(rows, values, a.shape)
    if isinstance(a, RowSparse):
        a, b = b, a
    if isinstance(b, RowSparse):
        return a.index_add(0, b.rows, b.values.to(a.dtype))
    return a + b


def embedding_tables(module: torch.nn.Module) -> list[Tensor]:
    """The trainable weights of the module's ``nn.Embedding`` layers (the tables worth keeping as rows)."""
    return [m.weight for m in module.modules() if isinstance(m, torch.nn.Embedding) and m.weight.requires_grad]


def table_positions(params: Sequence[Tensor], tables: Iterable[Tensor]) -> list[int]:
    """Where in ``params`` the ``tables`` are (the indices ``per_objective_gradients`` keeps as rows)."""
    ids = {id(t) for t in tables}
    return [i for i, p in enumerate(params) if id(p) in ids]


def compress(grad: Tensor) -> Gradient:
    """``grad`` as its non-zero rows when they are at most :data:`MOST_ROWS` of its rows, else ``grad``."""
    if grad.dim() < 2 or grad.shape[0] < 2:
        return grad
    rows = grad.reshape(grad.shape[0], -1).ne(0).any(dim=1).nonzero().squeeze(1)
    if len(rows) > MOST_ROWS * grad.shape[0]:
        return grad
    return RowSparse(rows, grad.index_select(0, rows), grad.shape)


def dense(grad: Gradient) -> Tensor:
    """The gradient as a dense tensor (what a collective or a plain optimizer needs)."""
    return grad.to_dense() if isinstance(grad, RowSparse) else grad


def sparse_gram_block(grads: Sequence[Gradient]) -> Tensor:
    """float64 dot products among ``grads`` (one parameter) over the union of the sparse ones' rows.

    Any entry that involves a row-sparse gradient is exact from these rows alone (it
    is zero elsewhere); an entry between two dense gradients is NOT (the caller
    computes those over the whole tensors).
    """
    union = torch.unique(torch.cat([g.rows for g in grads if isinstance(g, RowSparse)]))
    rows = []
    for g in grads:
        if isinstance(g, RowSparse):
            compact = torch.zeros((len(union), *g.shape[1:]), dtype=torch.float64, device=g.device)
            compact.index_copy_(0, torch.searchsorted(union, g.rows), g.values.to(torch.float64))
        else:
            compact = g.index_select(0, union.to(g.device)).to(torch.float64)
        rows.append(compact.reshape(-1).to(union.device))
    stacked = torch.stack(rows)
    return stacked @ stacked.T


def add_scaled(into: Tensor, grad: Gradient, weight: float) -> None:
    """``into += weight * grad`` in ``into``'s dtype."""
    if isinstance(grad, RowSparse):
        into.index_add_(0, grad.rows.to(into.device), grad.values.to(into.device, into.dtype), alpha=weight)
    else:
        into.add_(grad.to(into.device, into.dtype), alpha=weight)

