"""The per-objective gradient engine: K gradients, their Gramian, the weights, one update in ``.grad``.

Usage in a training loop (one call per micro-batch, ``finish`` before the optimizer step)::

    engine = CombinedBackward(model.parameters(), build_combiner("agp"), generator=gen,
                              row_sparse=embedding_tables(model))
    for micro_batch in batches:
        with accelerator.no_sync(model):          # only when the model is DDP-wrapped
            losses = {"ce": ..., "perception": ...}   # already weighted (weight × mixing)
            engine.backward(losses)
    records = engine.finish()                      # diagnostics for metrics.jsonl
    optimizer.step(); optimizer.zero_grad()

How: each objective's gradient over the trainable parameters comes from
``torch.autograd.grad`` (keeping the graph between objectives). The Gramian is
accumulated in float64 slice by slice (no float64 copy of any whole gradient), the
combiner turns it into K weights, and ``sum_k w_k g_k`` is ADDED to ``.grad``, so
gradient accumulation works as usual. The embedding tables named in ``row_sparse``
keep only their non-zero rows per objective (:mod:`harness.combine.row_sparse`).
With ``sum`` (weights independent of the Gramian) a single backward of
``sum_k w_k L_k`` does the same job K times cheaper, unless ``per_objective=True``
asks for the diagnostics anyway.

Accumulation: ``combine_per="micro_batch"`` (the official code) combines each
micro-batch's gradients as they come; ``combine_per="step"`` sums each
objective's gradients over the micro-batches and combines once in :meth:`finish`.

DDP: see :mod:`harness.combine.distributed`: per-objective gradients are
averaged across ranks before the Gramian and rank 0's weights are broadcast (a
row-sparse table is made dense for that, since ranks see different tokens).
Seed the generator identically on every rank. Mixed precision: works under
autocast (gradients keep the parameters' dtype; the Gramian is float64; the
combination is formed in at least float32); a non-finite Gramian (fp16 overflow)
falls back to weights of one so the Inf/NaN reaches ``.grad`` and a loss scaler
skips the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Literal, Mapping

import torch
from torch import Tensor

from harness.combine.base import Combiner
from harness.combine.diagnostics import diagnostics
from harness.combine.distributed import all_reduce_mean, broadcast_from_first, world_size
from harness.combine.row_sparse import (RowSparse, Gradient, add_gradients, add_scaled, compress, dense,
                                        sparse_gram_block, table_positions)

Grads = list[list[Gradient | None]]  # [objective][parameter]; embedding tables may be RowSparse


@dataclass
class StepRecord:
    """One combination: the objectives, their weights and (when computed) their Gramian."""

    names: list[str]
    weights: Tensor
    gramian: Tensor | None

    def diagnostics(self) -> dict:
        """JSON-able cosines, conflicts, norms and weights (see :mod:`harness.combine.diagnostics`)."""
        return diagnostics(self.gramian, self.names, self.weights)


def trainable_parameters(params: Iterable[Tensor] | torch.nn.Module) -> list[Tensor]:
    """The parameters that require grad (a DDP wrapper shares its module's parameters)."""
    if isinstance(params, torch.nn.Module):
        params = params.parameters()
    out, seen = [], set()
    for p in params:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def per_objective_gradients(losses: Mapping[str, Tensor], params: list[Tensor], *, last: str | None = "ce",
                            row_sparse: Collection[int] = ()) -> Grads:
    """``[k][p]``: the gradient of loss k w.r.t. parameter p (None where p does not affect it).

    Parameters whose index is in ``row_sparse`` (embedding tables, see
    :mod:`harness.combine.row_sparse`) keep only their non-zero rows, so K copies of a
    vocabulary-sized table cost what the batch's tokens cost.

    The objective named ``last`` (the CE loss, whose graph reaches every layer and the
    output head) is differentiated last: that backward frees the graph as it goes, so
    the activations are released while the largest gradient is formed instead of being
    held beside it. The order changes no value.
    """
    items = list(losses.items())
    for name, loss in items:
        if loss.dim() != 0:
            raise ValueError(f"objective '{name}': loss must be a scalar, got shape {tuple(loss.shape)}")
    order = sorted(range(len(items)), key=lambda i: items[i][0] == last)
    order = [i for i in order if items[i][1].requires_grad]
    grads: Grads = [[None] * len(params) for _ in items]
    for n, i in enumerate(order):
        row = list(torch.autograd.grad(items[i][1], params, retain_graph=n < len(order) - 1, allow_unused=True))
        for p in row_sparse:
            if row[p] is not None:
                row[p] = compress(row[p])
        grads[i] = row
    return grads


GRAMIAN_CHUNK = 1 << 20  # elements per objective converted to float64 at a time


def blockwise_gramian(grads: Grads, params: list[Tensor], chunk: int = GRAMIAN_CHUNK) -> Tensor:
    """``G[i, j] = <g_i, g_j>`` accumulated in float64, one slice of one parameter at a time.

    Each slice of at most ``chunk`` elements per objective is copied into one reused
    float64 buffer (K × chunk), so the Gramian needs no float64 copy of any whole
    gradient: at InternVL3-1B scale a whole-parameter float64 stack of K gradients of
    the embedding alone is gigabytes. Objectives a parameter does not affect add nothing.
    An entry that involves a row-sparse gradient comes from the rows it has (it is zero
    elsewhere).
    """
    k = len(grads)
    device = params[0].device if params else torch.device("cpu")
    gram = torch.zeros(k, k, dtype=torch.float64, device=device)
    buffers: dict[torch.device, Tensor] = {}
    for p_index in range(len(params)):
        present = [i for i in range(k) if grads[i][p_index] is not None]
        if not present:
            continue
        column = [grads[i][p_index] for i in present]
        dense_at = [n for n, g in enumerate(column) if not isinstance(g, RowSparse)]
        if len(dense_at) < len(column):
            block = sparse_gram_block(column).to(device)
        else:
            block = torch.zeros(len(column), len(column), dtype=torch.float64, device=device)
        if dense_at:
            at = torch.tensor(dense_at, device=device)
            block[at[:, None], at] = _dense_block([column[n] for n in dense_at], buffers, k, chunk).to(device)
        index = torch.tensor(present, device=device)
        gram[index[:, None], index] += block
    return gram


def _dense_block(flat_grads: list[Tensor], buffers: dict[torch.device, Tensor], k: int, chunk: int) -> Tensor:
    """float64 dot products among dense gradients of one parameter, ``chunk`` elements at a time."""
    flat = [g.reshape(-1) for g in flat_grads]
    where = flat[0].device
    if where not in buffers:
        buffers[where] = torch.empty(k, chunk, dtype=torch.float64, device=where)
    buffer = buffers[where]
    block = torch.zeros(len(flat), len(flat), dtype=torch.float64, device=where)
    n = flat[0].numel()
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        rows = buffer[: len(flat), : stop - start]
        for row, g in zip(rows, flat):
            row.copy_(g[start:stop])
        block += rows @ rows.T
    return block


def add_combination(grads: Grads, params: list[Tensor], weights: Tensor, *, release: bool = False) -> None:
    """``param.grad += sum_k w_k g_k`` (formed in at least float32, stored in the parameter's dtype).

    ``release=True`` drops each per-objective gradient as soon as it is added, so the
    combination never holds more than the K gradients it started with.
    """
    for p_index, param in enumerate(params):
        column = [(w, grads[i][p_index]) for i, w in enumerate(weights.tolist()) if grads[i][p_index] is not None]
        if release:
            for row in grads:
                row[p_index] = None
        if not column:
            continue
        acc_dtype = torch.promote_types(param.dtype, torch.float32)
        combined = torch.zeros(param.shape, dtype=acc_dtype, device=param.device)
        for w, g in column:
            add_scaled(combined, g, w)
        del column
        combined = combined.to(param.dtype)
        if param.grad is None:
            param.grad = combined
        else:
            param.grad.add_(combined)


class CombinedBackward:
    """Backward pass for several objectives whose gradients a combiner merges."""

    def __init__(
        self,
        params: Iterable[Tensor] | torch.nn.Module,
        combiner: Combiner,
        *,
        generator: torch.Generator | None = None,
        combine_per: Literal["micro_batch", "step"] = "micro_batch",
        per_objective: bool | None = None,
        bucket_elements: int = 1 << 24,
        atomic: bool = False,
        row_sparse: Iterable[Tensor] = (),
    ):
        if combine_per not in ("micro_batch", "step"):
            raise ValueError(f"combine_per must be 'micro_batch' or 'step', got {combine_per!r}")
        self.params = trainable_parameters(params)
        self.row_sparse = table_positions(self.params, row_sparse)  # embedding tables: gradients kept as rows
        self.combiner = combiner
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.combine_per = combine_per
        self.per_objective = combiner.needs_gramian if per_objective is None else bool(per_objective)
        if not self.per_objective and combiner.needs_gramian:
            raise ValueError(f"combiner '{combiner.name}' needs per-objective gradients")
        self.bucket_elements = bucket_elements
        self.atomic = atomic  # never leave .grad half written by a failed backward (costs one gradient copy)
        self.writing = False  # True while .grad is being written (a failure then corrupts the step)
        self._pending: Grads | None = None
        self._pending_names: list[str] | None = None
        self._pending_scales: dict[str, float] | None = None
        self._records: list[StepRecord] = []

    # -- the two calls of a training loop ---------------------------------------------

    def backward(self, losses: Mapping[str, Tensor], scales: Mapping[str, float] | None = None) -> StepRecord | None:
        """Add this micro-batch's combined gradient to ``.grad`` (or stash it, with ``combine_per='step'``).

        ``scales`` (each objective's static weight × mean mixing factor in this
        micro-batch) reaches a combiner that asks for it (``wants_scales``): an online
        reweighting that reads the objectives' base gradient norms off the Gramian.
        """
        names = list(losses)
        if not self.per_objective:
            return self._single_backward(losses)
        grads = per_objective_gradients(losses, self.params, row_sparse=self.row_sparse)
        if self.combine_per == "micro_batch":
            return self._combine(names, grads, scales)
        self._accumulate(names, grads, scales)
        return None

    def finish(self) -> list[StepRecord]:
        """Before ``optimizer.step()``: combine what was stashed, end the combiner's step; returns the records."""
        if self._pending is not None:
            names, grads = self._pending_names, self._pending
            scales = self._pending_scales
            self._pending, self._pending_names, self._pending_scales = None, None, None
            self._combine(names, grads, scales)
        end_step = getattr(self.combiner, "end_step", None)
        if end_step is not None and self._records:
            end_step()
        records, self._records = self._records, []
        return records

    # -- internals --------------------------------------------------------------------

    def _single_backward(self, losses: Mapping[str, Tensor]) -> StepRecord:
        names = list(losses)
        weights = self.combiner.static_weights(names)
        total = sum(float(w) * loss for w, loss in zip(weights.tolist(), losses.values()))
        if isinstance(total, Tensor) and total.requires_grad:
            if world_size() > 1 or self.atomic:
                grads = [list(torch.autograd.grad(total, self.params, allow_unused=True))]
                if world_size() > 1:
                    self._reduce(grads)
                self._add(grads, torch.ones(1, dtype=torch.float64))
            else:
                self.writing = True
                total.backward(inputs=self.params)
                self.writing = False
        record = StepRecord(names, weights, None)
        self._records.append(record)
        return record

    def _add(self, grads: Grads, weights: Tensor, *, release: bool = False) -> None:
        self.writing = True
        add_combination(grads, self.params, weights, release=release)
        self.writing = False

    def recover(self) -> bool:
        """After a failed micro-batch: whether ``.grad`` was half written (then the step is lost)."""
        lost, self.writing = self.writing, False
        return lost

    def _accumulate(self, names: list[str], grads: Grads, scales: Mapping[str, float] | None = None) -> None:
        if scales is not None:  # the summed gradient's scale is the sum of the micro-batches' scales
            held = self._pending_scales or {}
            self._pending_scales = {k: held.get(k, 0.0) + float(v) for k, v in scales.items()}
        if self._pending is None:
            self._pending, self._pending_names = grads, names
            return
        if names != self._pending_names:
            raise ValueError(f"objectives changed within an accumulation step: {self._pending_names} then {names}")
        for k, row in enumerate(grads):
            for p, g in enumerate(row):
                if g is None:
                    continue
                held = self._pending[k][p]
                self._pending[k][p] = g if held is None else add_gradients(held, g)

    def _reduce(self, grads: Grads) -> None:
        """Average across ranks; missing and row-sparse gradients become dense so every rank sends the same layout."""
        for row in grads:
            for p, g in enumerate(row):
                row[p] = torch.zeros_like(self.params[p]) if g is None else dense(g)
        all_reduce_mean([g for row in grads for g in row], self.bucket_elements)

    def _combine(self, names: list[str], grads: Grads, scales: Mapping[str, float] | None = None) -> StepRecord:
        if world_size() > 1:
            self._reduce(grads)
        gram = blockwise_gramian(grads, self.params)
        if scales is not None and getattr(self.combiner, "wants_scales", False):
            weights = self.combiner(gram.cpu(), names, self.generator, scales=dict(scales))
        else:
            weights = self.combiner(gram.cpu(), names, self.generator)
        device = self.params[0].device if self.params else torch.device("cpu")
        weights = broadcast_from_first(weights, device)
        self._add(grads, weights, release=True)
        record = StepRecord(names, weights, gram.cpu())
        self._records.append(record)
        return record

    # -- checkpointing ----------------------------------------------------------------

    def state_dict(self) -> dict:
        """The generator's state and the combiner's state (call between optimizer steps)."""
        return {"generator": self.generator.get_state(), "combiner": self.combiner.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.combiner.load_state_dict(state.get("combiner", {}))
