"""The official DriveBench JSON format: validation, loading, camera filtering, settings.

:func:`load` turns a DriveBench file (clean, or a corruption file whose items are
``robust_qas``) into :class:`~harness.data.types.EvalItem` objects. Every item is
validated first; one bad item rejects the file with a one-line error naming the
item and field (``drivebench-clean.json: item 7: field 'tag': …``), unless
``skip_invalid`` is set, in which case bad items are dropped and counted
(:attr:`LoadedItems.skipped`, plus a logged warning).

Camera filtering follows the official evaluation: a question that refers to
objects is shown only the cameras those references name; a question with no
reference sees every camera the item lists. ``keep_all_cameras`` turns this off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.blank import DEFAULT_SIZE, TEXT_ONLY, black_image_path
from harness.data.errors import DataError, ItemProblem
from harness.data.limits import image_under_root
from harness.data.jsonfile import read_items
from harness.data.mapping import QUESTION_TYPES, ROBUST, ROBUST_TAGS, capability_of, kind_of, resolve_question_type
from harness.data.objects import cameras_referred, parse_object_refs
from harness.data.options import answer_letter, parse_options, yes_no
from harness.data.types import CAMERAS, EvalItem, ObjectRef
from harness.registry import did_you_mean

log = logging.getLogger(__name__)

CLEAN = "clean"


@dataclass(frozen=True)
class CheckedItem:
    """What validation learned about one raw item (everything :class:`EvalItem` needs)."""

    question_type: str  # resolved (robust_qas → its task)
    tag: int
    kind: str
    objects: tuple[ObjectRef, ...]
    options: dict[str, str]
    cameras: dict[str, str]  # camera → path exactly as written in the file, canonical order


class LoadedItems(list):
    """A list of :class:`EvalItem` that also says what was skipped and from where."""

    def __init__(self, items=(), *, path: str = "", skipped: list[str] | None = None):
        super().__init__(items)
        self.path = path
        self.skipped: list[str] = list(skipped or [])


def _string(raw: dict, key: str, *, required: bool = True, empty_ok: bool = False) -> str:
    if key not in raw:
        if required:
            raise ItemProblem(key, "missing")
        return ""
    value = raw[key]
    if not isinstance(value, str):
        raise ItemProblem(key, f"expected a string, got {type(value).__name__} {value!r:.40}")
    if not empty_ok and not value.strip():
        raise ItemProblem(key, "is empty")
    return value


def _tag(raw: dict) -> int:
    if "tag" not in raw:
        raise ItemProblem("tag", "missing")
    value = raw["tag"]
    if (not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], int)
            or isinstance(value[0], bool)):
        raise ItemProblem("tag", f"expected a one-element list of int, got {value!r:.40}")
    return value[0]


def _image_paths(raw: dict) -> dict[str, str]:
    if "image_path" not in raw:
        raise ItemProblem("image_path", "missing")
    value = raw["image_path"]
    if not isinstance(value, dict) or not value:
        raise ItemProblem("image_path", f"expected a non-empty mapping camera → path, got {value!r:.40}")
    for camera, path in value.items():
        if camera not in CAMERAS:
            raise ItemProblem(f"image_path.{camera}", f"unknown camera (known: {', '.join(CAMERAS)})")
        if not isinstance(path, str) or not path.strip():
            raise ItemProblem(f"image_path.{camera}", f"expected a non-empty path string, got {path!r:.40}")
    return {c: value[c] for c in CAMERAS if c in value}


def check_item(raw: Any) -> CheckedItem:
    """Validate one raw DriveBench item; the first problem raises :class:`ItemProblem`."""
    if not isinstance(raw, dict):
        raise ItemProblem("(item)", f"expected an object, got {type(raw).__name__}")
    _string(raw, "scene_token")
    _string(raw, "frame_token")
    question = _string(raw, "question")
    answer = _string(raw, "answer", empty_ok=True)
    for optional in ("id", "setting", "pred"):
        if optional in raw and not isinstance(raw[optional], str):
            raise ItemProblem(optional, f"expected a string, got {type(raw[optional]).__name__}")
    qtype = _string(raw, "question_type")
    if qtype not in QUESTION_TYPES and qtype != ROBUST:
        raise ItemProblem(
            "question_type",
            f"unknown question type {qtype!r}{did_you_mean(qtype, QUESTION_TYPES + (ROBUST,))} "
            f"(known: {', '.join(QUESTION_TYPES + (ROBUST,))})",
        )
    tag = _tag(raw)
    if qtype == ROBUST and tag not in ROBUST_TAGS:
        raise ItemProblem("tag", f"robust_qas takes tags 0-5, got {tag}")
    if qtype != ROBUST and tag not in (0, 1, 2, 3):
        raise ItemProblem("tag", f"clean items take tags 0-3, got {tag}")
    task = resolve_question_type(qtype, tag, question)
    cameras = _image_paths(raw)
    objects = parse_object_refs(question, field="question")
    for ref in objects:
        if ref.camera not in cameras:
            raise ItemProblem("question", f"object reference {ref.text} names {ref.camera}, which image_path lacks")
    parse_object_refs(answer, field="answer")
    kind = kind_of(task, tag)
    options: dict[str, str] = {}
    if kind == "mcq":
        options = parse_options(question)
        if not options:
            raise ItemProblem("question", "a multiple-choice question (tag 0) lists no options 'A. … B. …'")
        if answer.strip():
            letter = answer_letter(answer)
            if letter not in options:
                raise ItemProblem(
                    "answer", f"expected one of the option letters {', '.join(options)}, got {answer!r:.40}"
                )
    elif kind == "yes_no" and answer.strip() and yes_no(answer) is None:
        raise ItemProblem("answer", f"a yes/no question's answer must start with Yes or No, got {answer!r:.40}")
    return CheckedItem(task, tag, kind, objects, options, cameras)


def infer_setting(raw: dict, question_type: str) -> str:
    """The setting an item belongs to when the caller names none.

    An item may say so itself (``"setting"``, as the synthetic files do); an
    official corruption file is recognised by ``robust_qas`` and named after the
    folder its images sit in (``./BitError/CAM_FRONT/…`` → ``BitError``).
    """
    if isinstance(raw.get("setting"), str) and raw["setting"]:
        return raw["setting"]
    if question_type == ROBUST:
        first = next(iter(raw["image_path"].values()))
        parts = [p for p in Path(first).parts if p not in (".", "..")]
        return parts[0] if parts else "corruption"
    return CLEAN


def kept_cameras(checked: CheckedItem, keep_all: bool) -> list[str]:
    """The official camera filter: the cameras the question's references name, else all."""
    if keep_all or not checked.objects:
        return list(checked.cameras)
    return cameras_referred(checked.objects)


def to_eval_item(raw: dict, checked: CheckedItem, index: int, *, data_root: Path, setting: str,
                 keep_all_cameras: bool, blank: Path | None, allow_outside_root: bool = False) -> EvalItem:
    """Build the :class:`EvalItem` of a validated raw item (raises ItemProblem for an image outside the root)."""
    cams = kept_cameras(checked, keep_all_cameras)
    for camera, image in checked.cameras.items():  # every path, even of cameras left out, stays inside
        image_under_root(image, data_root, allow_outside_root=allow_outside_root, field=f"image_path.{camera}")
    if blank is not None:
        cameras = {c: str(blank) for c in cams}
    else:
        cameras = {c: image_under_root(checked.cameras[c], data_root, allow_outside_root=allow_outside_root)
                   for c in cams}
    item_id = raw.get("id") or f"{raw['frame_token']}:{index}"
    return EvalItem(
        id=item_id,
        question=raw["question"],
        answer=raw.get("answer", ""),
        question_type=checked.question_type,
        tag=checked.tag,
        capability=capability_of(checked.question_type),
        kind=checked.kind,
        cameras=cameras,
        objects=checked.objects,
        setting=setting,
        scene_token=raw["scene_token"],
        frame_token=raw["frame_token"],
        options=checked.options,
        raw=raw,
    )


def _identity_keys(raw: dict) -> list[tuple]:
    """What makes an item the same item: its ``id`` if given, and its frame and question."""
    keys: list[tuple] = [("question", raw["scene_token"], raw["frame_token"], raw["question_type"], raw["question"])]
    if raw.get("id"):
        keys.append(("id", str(raw["id"])))
    return keys


def _missing_images(item: EvalItem) -> list[tuple[str, str]]:
    return [(cam, path) for cam, path in item.cameras.items() if not Path(path).is_file()]


def load(path: str | Path, data_root: str | Path | None = None, *, setting: str | None = None,
         skip_invalid: bool = False, keep_all_cameras: bool = False, check_images: bool = True,
         text_only_size: int = DEFAULT_SIZE, allow_outside_root: bool = False) -> LoadedItems:
    """Load and validate a DriveBench JSON file.

    ``data_root``: folder relative image paths resolve against (default: the
    file's folder). ``setting``: ``None`` infers it per item (clean, or the
    corruption named by the file), ``"text_only"`` replaces every image by a black
    frame (no image needs to exist), any other name just labels the items.
    ``check_images``: every kept image must exist; missing ones are named.
    Image paths must stay under the data root unless ``allow_outside_root``; an
    item repeated (same scene, frame, question type and question, or the same
    ``id``) is refused, since it would be scored twice.
    """
    path = Path(path)
    root = Path(data_root) if data_root is not None else path.parent
    raw_items = read_items(path)
    if not isinstance(raw_items, list):
        raise DataError(f"expected a JSON array of items, got {type(raw_items).__name__}", file=path)
    blank = black_image_path(text_only_size) if setting == TEXT_ONLY else None
    items: list[EvalItem] = []
    skipped: list[str] = []
    first_seen: dict[Any, int] = {}
    for index, raw in enumerate(raw_items):
        try:
            checked = check_item(raw)
            label = setting if setting is not None else infer_setting(raw, raw["question_type"])
            item = to_eval_item(raw, checked, index, data_root=root, setting=label,
                                keep_all_cameras=keep_all_cameras, blank=blank, allow_outside_root=allow_outside_root)
            for key in _identity_keys(raw):
                if key in first_seen:
                    raise ItemProblem(key[0], f"repeats item {first_seen[key]} (it would be scored twice)")
            for key in _identity_keys(raw):
                first_seen[key] = index
        except ItemProblem as problem:
            error = DataError(problem.message, file=path, index=index, field=problem.field)
            if not skip_invalid:
                raise error from None
            skipped.append(str(error))
            continue
        items.append(item)
    if check_images and blank is None:
        items = _drop_or_raise_missing(items, path, skip_invalid, skipped, raw_items)
    if not items and raw_items:
        raise DataError(f"no valid item among {len(raw_items)} (first problem: {skipped[0]})", file=path)
    if skipped:
        log.warning("%s: skipped %d invalid item(s) of %d", path.name, len(skipped), len(raw_items))
    return LoadedItems(items, path=str(path), skipped=skipped)


def _drop_or_raise_missing(items: list[EvalItem], path: Path, skip_invalid: bool, skipped: list[str],
                           raw_items: list) -> list[EvalItem]:
    index_of = {id(raw): i for i, raw in enumerate(raw_items)}
    kept, missing_items, missing_total, first = [], 0, 0, None
    for item in items:
        missing = _missing_images(item)
        if not missing:
            kept.append(item)
            continue
        missing_items += 1
        missing_total += len(missing)
        cam, img = missing[0]
        error = DataError(f"image not found: {img}", file=path, index=index_of.get(id(item.raw)),
                          field=f"image_path.{cam}")
        first = first or error
        skipped.append(str(error))
    if first is not None and not skip_invalid:
        more = f" ({missing_total} missing images in {missing_items} items; set data_root, or use the text_only setting)"
        raise DataError(first.detail + more, file=path, index=first.index, field=first.field)
    return kept
