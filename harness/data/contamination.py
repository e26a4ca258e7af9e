"""The contamination guard: no training on the frames the run is evaluated on.

DriveBench is built from nuScenes key frames, and DriveLM-style training sets use
the same frames; a student trained on an evaluation frame has seen its answer's
scene. A frame is known by its token when a sample carries one (``meta.frame_token``,
set for training samples made from DriveBench items) and by its image files' last
two path components (``CAM_FRONT/n008-…__CAM_FRONT__1533151603512404.jpg`` is unique
in nuScenes whatever folder the data was unpacked to). A training sample overlaps
when any of its keys is an evaluation item's key.

Pure functions of the samples and items; the run refuses or records (runner).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Iterable, Sequence

from harness.data.errors import DataError
from harness.data.types import EvalItem, TrainSample


def _image_key(path: str) -> str:
    parts = PurePath(path).parts
    return "image:" + "/".join(parts[-2:])


def sample_keys(sample: TrainSample) -> set[str]:
    keys = {_image_key(p) for p in sample.images}
    token = (sample.meta or {}).get("frame_token")
    if token:
        keys.add(f"frame:{token}")
    return keys


def item_keys(item: EvalItem) -> set[str]:
    keys = {_image_key(p) for p in item.cameras.values()}
    if item.frame_token:
        keys.add(f"frame:{item.frame_token}")
    return keys


def overlapping(samples: Sequence[TrainSample], items: Iterable[EvalItem]) -> list[TrainSample]:
    """The training samples that share a frame with an evaluation item, in order."""
    seen: set[str] = set()
    for item in items:
        seen |= item_keys(item)
    return [s for s in samples if sample_keys(s) & seen]


def guard(samples: Sequence[TrainSample], items: Sequence[EvalItem], *, eval_file: str, allow: bool,
          field: str = "data") -> dict:
    """Refuse (DataError) when training samples share frames with the evaluation data, unless ``allow``.

    Returns what run.json records either way: the count and the first few sample ids.
    """
    hits = overlapping(samples, items)
    report = {"eval_file": eval_file, "overlapping_train_samples": len(hits),
              "of_train_samples": len(samples), "examples": [s.id for s in hits[:5]], "allowed": allow}
    if hits and not allow:
        examples = ", ".join(report["examples"])
        raise DataError(
            f"{field}: {len(hits)} of {len(samples)} training samples share frames with the evaluation data "
            f"{eval_file} (e.g. {examples}); remove them, or set data.allow_eval_overlap: true to train anyway"
        )
    return report
