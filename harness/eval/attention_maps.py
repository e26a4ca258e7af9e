"""Capture a model's text-to-vision attention on evaluation items (the I/O half of the mechanism metrics).

Each item is fed as the training loss sees it: its images and question with the
reference answer (collated by :func:`harness.data.collate.collate_train`, the
family's own chat template), in one forward pass with the harness's attention
capture (:class:`harness.signals.capture.AttentionCapture`, which asks the family
adapter to recompute the requested layers' maps). From each head-mean map it keeps
the block the mechanism metrics read (:mod:`harness.eval.mechanism`):

- rows: the text tokens after the first image token (``rows="after_image"``: the
  question, the template's turn markers and the answer; tokens before the image cannot
  attend to it, the rule the text-to-vision loss's ``rows: after_image`` follows too)
  or only the answer tokens (``rows="answer"``);
- columns: every image token of the item, images in prompt order.

Layers are named as in a signal's layer spec (``first``, ``penultimate``, ``3``…) and
resolved per model depth, so a 4-layer student's ``penultimate`` is compared with a
6-layer teacher's ``penultimate``, as the distillation objective pairs them.

The referred object (:func:`object_columns`): a synthetic item's ``facts.object``
with its drawn box from the item's scene graph; otherwise the single object its
question references, at the cell holding the reference's centre.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from harness.data.collate import IGNORE_INDEX, collate_train
from harness.data.types import EvalItem, TrainSample
from harness.devices import model_device
from harness.errors import HarnessError
from harness.eval.mechanism import ItemMaps, box_cells, point_cells
from harness.eval.prompts import build_prompt
from harness.signals.capture import AttentionCapture
from harness.signals.kinds import after_first_image
from harness.signals.layers import resolve_layers

log = logging.getLogger(__name__)

ROWS = ("after_image", "answer")
DEFAULT_LAYERS = ("first", "penultimate")


def referred_object(item: EvalItem) -> tuple[str, tuple[float, float, float, float] | None, tuple[float, float]] | None:
    """(camera, box or None, centre) of the one object ``item`` asks about, or None.

    A synthetic item names it in ``facts.object`` and its scene carries the box; a
    DriveBench item whose question references exactly one object gives its camera and centre.
    """
    facts = item.raw.get("facts") if isinstance(item.raw, dict) else None
    target = facts.get("object") if isinstance(facts, dict) and isinstance(facts.get("object"), str) else None
    scene = item.raw.get("scene") if isinstance(item.raw, dict) else None
    if target is not None and isinstance(scene, dict):
        for obj in scene.get("objects") or []:
            if isinstance(obj, dict) and obj.get("id") == target and obj.get("camera"):
                box = obj.get("box")
                box = tuple(float(v) for v in box) if isinstance(box, (list, tuple)) and len(box) == 4 else None
                return str(obj["camera"]), box, (float(obj.get("x", 0.0)), float(obj.get("y", 0.0)))
    refs = {r.id: r for r in item.objects}
    if target is not None and target in refs:
        ref = refs[target]
        return ref.camera, None, (ref.x, ref.y)
    if len(refs) == 1:
        ref = next(iter(refs.values()))
        return ref.camera, None, (ref.x, ref.y)
    return None


def object_columns(item: EvalItem, grids: Sequence[tuple[int, int]]) -> np.ndarray | None:
    """Bool over the item's image tokens (images in prompt order): the referred object's cells, or None."""
    found = referred_object(item)
    cameras = list(item.cameras)
    if found is None or found[0] not in cameras:
        return None
    camera, box, (x, y) = found
    parts = []
    for index, grid in enumerate(grids):
        if index != cameras.index(camera):
            parts.append(np.zeros(grid[0] * grid[1], dtype=bool))
        else:
            parts.append(box_cells(box, grid) if box is not None else point_cells(x, y, grid))
    return np.concatenate(parts) if parts else None


def _sample(item: EvalItem, brief: str) -> TrainSample:
    return TrainSample(id=item.id, images=tuple(item.cameras.values()), question=build_prompt(item, brief),
                       answer=item.answer, capability=item.capability)


def capture_text_to_vision(loaded, items: Sequence[EvalItem], *, layers: Sequence = DEFAULT_LAYERS,
                           rows: str = "after_image", brief: str = "", batch_size: int = 8) -> list[ItemMaps]:
    """Each item's text-to-vision blocks at ``layers`` (names or indices, resolved per model depth)."""
    if rows not in ROWS:
        raise HarnessError(f"capture_text_to_vision: rows {rows!r} is not one of {', '.join(ROWS)}")
    if batch_size < 1:
        raise HarnessError("capture_text_to_vision: batch_size must be ≥ 1")
    names = [str(spec) for spec in layers]
    index = {}
    for name, spec in zip(names, layers):
        resolved = resolve_layers(spec, loaded.depth, model=loaded.name)
        if len(resolved) != 1:
            raise HarnessError(f"capture_text_to_vision: layer spec {spec!r} names {len(resolved)} layers; give one per name")
        index[name] = resolved[0]
    model = loaded.model
    model.eval()
    device = model_device(model)
    dtype = next(model.parameters()).dtype
    out: list[ItemMaps] = []
    for start in range(0, len(items), batch_size):
        chunk = list(items[start:start + batch_size])
        batch = collate_train([_sample(item, brief) for item in chunk], loaded).to(device, dtype=dtype)
        with torch.no_grad(), AttentionCapture(loaded, sorted(set(index.values())), grad=False) as cap:
            model(**batch.model_inputs())
        grids = loaded.adapter.image_token_grids(model.config, batch.inputs)
        offset = 0
        for b, item in enumerate(chunk):
            item_grids = grids[offset:offset + len(item.cameras)]
            offset += len(item.cameras)
            out.append(_item_maps(item, b, batch, cap.maps, index, item_grids, rows))
    log.debug("captured text-to-vision maps of %s on %d items (layers %s)", loaded.name, len(out), index)
    return out


def _item_maps(item: EvalItem, b: int, batch, maps: dict[int, torch.Tensor], index: dict[str, int],
               grids: Sequence[tuple[int, int]], rows: str) -> ItemMaps:
    valid = batch.attention_mask[b].bool()
    image = batch.image_mask[b].bool() & valid
    columns = torch.nonzero(image).flatten()
    expected = sum(r * c for r, c in grids)
    if columns.numel() != expected:
        raise HarnessError(f"{item.id}: {columns.numel()} image tokens but the images' grids hold {expected}")
    keep = valid & ~image & after_first_image(image[None])[0]
    if rows == "answer":
        keep &= batch.labels[b] != IGNORE_INDEX
    row_index = torch.nonzero(keep).flatten()
    blocks = {name: maps[layer][b][row_index][:, columns].float().cpu().numpy() for name, layer in index.items()}
    ids = tuple(batch.input_ids[b][valid].tolist())
    return ItemMaps(item_id=item.id, cluster=item.frame_token, blocks=blocks, layers=dict(index),
                    object_columns=object_columns(item, grids), input_ids=ids)
