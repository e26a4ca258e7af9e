"""Cross-rank reduction of per-objective gradients (DDP done by hand, per objective).

DistributedDataParallel averages ``.grad`` after ``backward()``: one gradient per
parameter, already summed over objectives. A combiner needs each objective's
gradient averaged over ALL ranks before the Gramian (projections are not linear,
so combining per rank and then averaging would give a different update). So the
gradient engine reduces the per-objective gradients itself, here, and the
model's forward must run under ``model.no_sync()`` (accelerate:
``accelerator.no_sync(model)``) or on an unwrapped model, so that DDP's own
reducer neither expects a backward it never sees nor averages a second time.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """The number of ranks (1 when torch.distributed is not initialised)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def all_reduce_mean(tensors: list[Tensor], bucket_elements: int = 1 << 24) -> None:
    """Average every tensor in place across ranks, in flat buckets of at most ``bucket_elements``.

    Every rank must pass tensors of the same shapes, dtypes and order.
    """
    n = world_size()
    if n == 1:
        return
    groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for members in groups.values():
        bucket: list[Tensor] = []
        size = 0
        for t in members:
            if bucket and size + t.numel() > bucket_elements:
                _reduce_bucket(bucket, n)
                bucket, size = [], 0
            bucket.append(t)
            size += t.numel()
        if bucket:
            _reduce_bucket(bucket, n)


def _reduce_bucket(bucket: list[Tensor], n: int) -> None:
    flat = torch.cat([t.reshape(-1) for t in bucket])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(n)
    offset = 0
    for t in bucket:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def broadcast_from_first(values: Tensor, device: torch.device) -> Tensor:
    """Rank 0's ``values`` on every rank, so all ranks apply bit-identical weights."""
    if world_size() == 1:
        return values
    buf = values.to(device).clone()
    dist.broadcast(buf, src=0)
    return buf.to(values.device)
