"""The training format (Drive-KD's released demo data) and the DriveBench converter.

One training item is a single-turn conversation::

    {"messages": [{"role": "user", "content": "<image><image>What is …?"},
                  {"role": "assistant", "content": "Final: {A. Going ahead.} …"}],
     "images": ["rel/or/abs/CAM_FRONT.png", "…"],
     "question_type": "perception" | "reasoning" | "planning",
     "id": "optional stable id", "meta": {optional, free}}

``<image>`` placeholders mark where the images go, one per entry of ``images``
(none at all means "all images before the text", as Drive-KD's loader does).
DriveBench task names (prediction, behavior) are accepted as ``question_type``
and mapped to their capability. :func:`load` yields
:class:`~harness.data.types.TrainSample`; :func:`from_drivebench` converts
DriveBench items that carry answers into this format.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from harness.data.errors import DataError, ItemProblem
from harness.data.jsonfile import read_items, write_json
from harness.data.limits import image_under_root
from harness.data.mapping import CAPABILITY_OF, template_of
from harness.data.types import CAPABILITIES, EvalItem, TrainSample

log = logging.getLogger(__name__)

IMAGE = "<image>"


def _capability(raw: dict) -> str:
    if "question_type" not in raw:
        raise ItemProblem("question_type", "missing")
    value = raw["question_type"]
    if isinstance(value, str) and value in CAPABILITIES:
        return value
    if isinstance(value, str) and value in CAPABILITY_OF:
        return CAPABILITY_OF[value]
    raise ItemProblem("question_type", f"expected one of {', '.join(CAPABILITIES)}, got {value!r:.40}")


def _turns(raw: dict) -> tuple[str, str]:
    messages = raw.get("messages")
    if messages is None:
        raise ItemProblem("messages", "missing")
    if not isinstance(messages, list) or len(messages) != 2:
        raise ItemProblem("messages", "expected exactly two messages: one user turn, then one assistant turn")
    for i, (message, role) in enumerate(zip(messages, ("user", "assistant"))):
        if not isinstance(message, dict):
            raise ItemProblem(f"messages[{i}]", f"expected an object, got {type(message).__name__}")
        if message.get("role") != role:
            raise ItemProblem(f"messages[{i}].role", f"expected {role!r}, got {message.get('role')!r:.40}")
        content = message.get("content")
        if not isinstance(content, str) or not content.replace(IMAGE, "").strip():
            raise ItemProblem(f"messages[{i}].content", "expected non-empty text")
    return messages[0]["content"], messages[1]["content"]


def _images(raw: dict, user: str) -> list[str]:
    images = raw.get("images", [])
    if not isinstance(images, list):
        raise ItemProblem("images", f"expected a list of paths, got {type(images).__name__}")
    for i, p in enumerate(images):
        if not isinstance(p, str) or not p.strip():
            raise ItemProblem(f"images[{i}]", f"expected a non-empty path string, got {p!r:.40}")
    placeholders = user.count(IMAGE)
    if placeholders and placeholders != len(images):
        raise ItemProblem(
            "images", f"the user turn has {placeholders} {IMAGE} placeholder(s) but {len(images)} image(s) are listed"
        )
    return images


def check_sample(raw: Any) -> tuple[str, str, list[str], str]:
    """Validate one training item: (question without placeholders, answer, images, capability)."""
    if not isinstance(raw, dict):
        raise ItemProblem("(item)", f"expected an object, got {type(raw).__name__}")
    user, answer = _turns(raw)
    images = _images(raw, user)
    capability = _capability(raw)
    if "id" in raw and not isinstance(raw["id"], (str, int)):
        raise ItemProblem("id", f"expected a string, got {type(raw['id']).__name__}")
    if "meta" in raw and not isinstance(raw["meta"], dict):
        raise ItemProblem("meta", f"expected an object, got {type(raw['meta']).__name__}")
    question = user.replace(IMAGE, "").strip()
    return question, answer.strip(), images, capability


def load(path: str | Path, data_root: str | Path | None = None, *, skip_invalid: bool = False,
         check_images: bool = True, allow_outside_root: bool = False) -> list[TrainSample]:
    """Load and validate a training-format file into :class:`TrainSample` objects.

    Image paths must stay under the data root unless ``allow_outside_root``; two
    items with one ``id`` are refused (their teacher targets would collide).
    """
    path = Path(path)
    root = Path(data_root) if data_root is not None else path.parent
    raw_items = read_items(path)
    if not isinstance(raw_items, list):
        raise DataError(f"expected a JSON array of items, got {type(raw_items).__name__}", file=path)
    samples, skipped = [], 0
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        try:
            question, answer, images, capability = check_sample(raw)
            sample_id = str(raw.get("id", f"{path.stem}:{index}"))
            if sample_id in first_seen:
                raise ItemProblem("id", f"'{sample_id}' repeats item {first_seen[sample_id]}")
            resolved = tuple(image_under_root(image, root, allow_outside_root=allow_outside_root, field=f"images[{i}]")
                             for i, image in enumerate(images))
            if check_images:
                for i, image in enumerate(resolved):
                    if not Path(image).is_file():
                        raise ItemProblem(f"images[{i}]", f"image not found: {image}")
        except ItemProblem as problem:
            if not skip_invalid:
                raise DataError(problem.message, file=path, index=index, field=problem.field) from None
            skipped += 1
            continue
        first_seen[sample_id] = index
        meta = dict(raw.get("meta", {}))
        meta.setdefault("template", template_of(question))
        samples.append(TrainSample(
            id=sample_id,
            images=resolved,
            question=question,
            answer=answer,
            capability=capability,
            meta=meta,
        ))
    if skipped:
        log.warning("%s: skipped %d invalid item(s) of %d", path.name, skipped, len(raw_items))
    if not samples and raw_items:
        raise DataError(f"no valid item among {len(raw_items)}", file=path)
    return samples


def _relative_to(path: str, folder: Path) -> str:
    """``path`` relative to ``folder`` when that is a plain downward path, else absolute."""
    absolute = Path(path).resolve()
    try:
        return absolute.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(absolute)


def training_item(item: EvalItem, *, answer: str | None = None, image_folder: Path | None = None) -> dict:
    """One DriveBench item (with a reference answer) as a training-format item."""
    images = list(item.cameras.values())
    if image_folder is not None:
        images = [_relative_to(p, image_folder) for p in images]
    meta = {"tag": item.tag, "kind": item.kind, "drivebench_question_type": item.question_type,
            "template": template_of(item.question), "setting": item.setting, "frame_token": item.frame_token}
    return {
        "id": item.id,
        "messages": [
            {"role": "user", "content": IMAGE * len(images) + item.question},
            {"role": "assistant", "content": item.answer if answer is None else answer},
        ],
        "images": images,
        "question_type": item.capability,
        "meta": meta,
    }


def to_train_sample(item: EvalItem) -> TrainSample:
    """A DriveBench item with its reference answer as one training sample (kept cameras, in order)."""
    return TrainSample(
        id=item.id,
        images=tuple(item.cameras.values()),
        question=item.question,
        answer=item.answer,
        capability=item.capability,
        meta={"tag": item.tag, "kind": item.kind, "drivebench_question_type": item.question_type,
              "template": template_of(item.question), "setting": item.setting, "frame_token": item.frame_token},
    )


def from_drivebench(items: Iterable[EvalItem], out: str | Path | None = None) -> tuple[list[dict], int]:
    """Training items from DriveBench items with answers; returns (items, skipped without answer).

    With ``out`` the items are also written there, image paths relative to its folder.
    """
    folder = Path(out).parent if out is not None else None
    converted, skipped = [], 0
    for item in items:
        if not item.answer.strip():
            skipped += 1
            continue
        converted.append(training_item(item, image_folder=folder))
    if out is not None:
        write_json(out, converted)
    return converted, skipped


__all__ = ["IMAGE", "check_sample", "load", "training_item", "to_train_sample", "from_drivebench"]
