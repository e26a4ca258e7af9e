"""Negative controls: a teacher's targets with the same values in the wrong places.

A control teacher (``teachers.KEY.control`` in a recipe) is a real teacher whose
attention targets have the key columns of each image's tokens permuted, per sample:
every text token attends as much to each image as a whole as the real teacher's does
(the row's mass on each image, and so its row sum, is unchanged), but to the wrong
tokens of it. A student distilled from it learns how much to look at an image and not
where; if it does as well as one distilled from the real teacher, the "where" is not
what transfers.

The permutation is within each image (a maximal run of consecutive image tokens of the
sample; the families put tokens between images, e.g. ``</img><img>``), a derangement
(every column of an image of two or more tokens moves), the same for every row, layer
and objective of the sample, and drawn from a hash of (control seed, sample id, image
index): deterministic across epochs, processes and the disk and live caches. Rows,
non-image columns and padding are untouched. Pure tensor math, no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch

def image_runs(image: torch.Tensor) -> list[tuple[int, int]]:
    """``[(start, end), …]`` of the maximal runs of True in a 1-D boolean row (end exclusive)."""
    flags = image.to(torch.int8).tolist()
    runs, start = [], None
    for i, flag in enumerate(flags + [0]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _generator(seed: int, sample_id: str, image: int) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}/{sample_id}/{image}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly drawn permutation of ``range(n)`` with no fixed point (the identity for n < 2)."""
    if n < 2:
        return torch.arange(n)
    identity = torch.arange(n)
    while True:  # about e draws on average
        perm = torch.randperm(n, generator=generator)
        if bool((perm != identity).all()):
            return perm


def column_permutation(image: torch.Tensor, sample_id: str, seed: int) -> torch.Tensor:
    """Key-column order for one sample: each image's columns deranged, every other column kept."""
    order = torch.arange(image.shape[-1])
    for index, (start, end) in enumerate(image_runs(image)):
        order[start:end] = start + derangement(end - start, _generator(seed, sample_id, index))
    return order


def permute_image_columns(targets: torch.Tensor, image_mask: torch.Tensor, ids: Sequence[str], seed: int,
                          *, key_axis: int = -1) -> torch.Tensor:
    """``targets`` ([batch, …, keys]) with each sample's image-token key columns permuted (see the module doc)."""
    if len(ids) != targets.shape[0] or image_mask.shape[0] != targets.shape[0]:
        raise ValueError(f"{targets.shape[0]} targets, {image_mask.shape[0]} masks and {len(ids)} ids")
    axis = key_axis % targets.dim()
    out = torch.empty_like(targets)
    for i, sample_id in enumerate(ids):
        order = column_permutation(image_mask[i].bool().cpu(), str(sample_id), seed).to(targets.device)
        out[i] = targets[i].index_select(axis - 1, order)
    return out
